"""A feature store serves one namespace: the one given, else PAVED_NAMESPACE, else default; a
manifest of another namespace is refused rather than read under the wrong keys."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from paved.features import FeatureStore, store_namespace
from paved.settings import OperatorSettings
from paved.streaming import dead_letter_key, stream_key

ROOT = Path(__file__).resolve().parents[3]


def _manifest(tmp_path: Path, namespace: str | None) -> Path:
    document = yaml.safe_load((ROOT / "examples" / "01-featureview.yaml").read_text())
    document["metadata"].pop("namespace", None)
    if namespace is not None:
        document["metadata"]["namespace"] = namespace
    path = tmp_path / "featureview.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_the_namespace_is_the_argument_then_paved_namespace_then_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PAVED_NAMESPACE", raising=False)
    assert store_namespace() == "default"
    monkeypatch.setenv("PAVED_NAMESPACE", "team-b")
    assert store_namespace() == "team-b"
    assert store_namespace("team-a") == "team-a"


def test_a_store_from_manifests_reads_its_views_in_its_namespace(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAVED_NAMESPACE", "team-b")
    settings = OperatorSettings(data_root=str(tmp_path))
    store = FeatureStore.from_manifests([_manifest(tmp_path, None)], settings)
    assert store.namespace == "team-b"
    assert {store.view(name).namespace for name in store.view_names} == {"team-b"}
    named = FeatureStore.from_manifests([_manifest(tmp_path, "team-a")], settings, "team-a")
    assert named.namespace == "team-a"


def test_a_manifest_of_another_namespace_is_refused(tmp_path: Path) -> None:
    settings = OperatorSettings(data_root=str(tmp_path))
    with pytest.raises(ValueError, match="not in namespace team-a; pass namespace='team-b'"):
        FeatureStore.from_manifests([_manifest(tmp_path, "team-b")], settings, "team-a")


def test_each_namespace_has_its_own_stream_of_a_view() -> None:
    assert stream_key("team-a", "clicks") == "paved:stream:team-a:clicks"
    assert stream_key("team-a", "clicks") != stream_key("team-b", "clicks")
    assert dead_letter_key("team-a", "clicks") == "paved:stream:team-a:clicks:dead-letter"
