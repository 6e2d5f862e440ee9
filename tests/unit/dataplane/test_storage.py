"""What the data plane's storage initializer fetches and what it refuses, as a real one would."""

from __future__ import annotations

from pathlib import Path

import pytest

from paved_local.dataplane.routing import deployment_status
from paved_local.dataplane.storage import StorageUriRefusedError, fetch, refusal


@pytest.mark.parametrize(
    "uri",
    [
        "s3://paved/mlflow/1/models/m-1/artifacts",
        "gs://bucket/model",
        "https://example.com/model.tar.gz",
        "pvc://models/churn",
        "file:///mnt/models/churn",
    ],
)
def test_a_storage_uri_is_fetched(uri: str) -> None:
    assert refusal(uri) is None


@pytest.mark.parametrize(
    ("uri", "named"),
    [
        ("models:/ml.churn/2", "models:"),
        ("runs:/abc/model", "runs:"),
        ("mlflow-artifacts:/1/models/m-1", "mlflow-artifacts:"),
        ("ftp://host/model", "ftp://"),
    ],
)
def test_a_uri_no_storage_initializer_fetches_is_refused_naming_its_scheme(
    uri: str, named: str
) -> None:
    said = refusal(uri)
    assert said is not None
    assert f"{named} is not one of gs://, s3://" in said


def test_a_registry_uri_is_refused_before_anything_is_downloaded(tmp_path: Path) -> None:
    with pytest.raises(StorageUriRefusedError, match="a registry URI"):
        fetch("models:/ml.churn/2", tmp_path / "cache")
    assert not (tmp_path / "cache").exists()


def test_a_local_model_is_fetched_once_into_the_cache(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}")
    cache = tmp_path / "cache"

    first = fetch(f"file://{source}", cache)
    (source / "model.pkl").write_text("added after the fetch")
    again = fetch(f"file://{source}", cache)

    assert first == again
    assert (first / "MLmodel").read_text() == "flavors: {}"
    assert not (first / "model.pkl").exists()  # not fetched a second time
    assert [p.name for p in cache.iterdir()] == [first.name]  # no partial download left


def test_a_deployment_whose_model_cannot_be_fetched_is_failed_with_why() -> None:
    failed = deployment_status(False, ["storage URI 'models:/ml.churn/2' cannot be fetched"])
    assert failed["state"] == "Failed"
    assert failed["description"] == "storage URI 'models:/ml.churn/2' cannot be fetched"
    assert failed["conditions"][0]["reason"] == "StorageInitializerFailed"
    assert deployment_status(False, [])["state"] == "Creating"
    assert deployment_status(True, [])["state"] == "Available"
