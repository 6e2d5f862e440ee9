"""The object store's keys: generated once per platform, kept private, handed to every client."""

from __future__ import annotations

from pathlib import Path

from paved_local.object_store import object_store


def test_keys_are_generated_once_and_kept_for_the_next_start(tmp_path: Path) -> None:
    first = object_store(tmp_path, "http://127.0.0.1:9000")
    again = object_store(tmp_path, "http://127.0.0.1:9001")

    assert (again.access_key, again.secret_key) == (first.access_key, first.secret_key)
    assert first.secret_key != object_store(tmp_path / "other", "http://x").secret_key
    keys = tmp_path / "object-store" / "credentials.json"
    assert keys.stat().st_mode & 0o777 == 0o600


def test_clients_get_the_endpoint_under_the_names_mlflow_boto3_and_kserve_read(
    tmp_path: Path,
) -> None:
    env = object_store(tmp_path, "http://127.0.0.1:9000").environment()
    assert env["MLFLOW_S3_ENDPOINT_URL"] == env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9000"
    assert env["AWS_ACCESS_KEY_ID"].startswith("paved-")
    assert env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_DEFAULT_REGION"]
