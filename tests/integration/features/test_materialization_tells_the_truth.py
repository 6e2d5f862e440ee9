"""Materialization says how many rows a read serves: rows already past the view's ttl are counted
as expired, and the CLI's summary says how many are readable; `--as-of` backfills each entity's
latest row as of then."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from paved.cli import main
from paved.features import FeatureStore
from paved.ports.online import ValueStatus
from paved.settings import OperatorSettings
from paved_local.platform import Endpoints

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
UTC = pa.timestamp("us", tz="UTC")
OLD = NOW - dt.timedelta(days=3)


def _manifest(tmp_path: Path, ttl: str) -> tuple[str, Path]:
    name = f"visits-{uuid.uuid4().hex[:6]}"
    document = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "FeatureView",
        "metadata": {"name": name, "namespace": "test"},
        "spec": {
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "source": {"path": "visits/*.parquet", "timestampField": "ts"},
            "ttl": ttl,
            "features": [{"name": "visits", "dtype": "int64"}],
        },
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document))
    return name, path


def _write(tmp_path: Path, rows: list[tuple[int, dt.datetime, int]]) -> None:
    directory = tmp_path / "test" / "visits"
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "user_id": pa.array([user for user, _, _ in rows], pa.int64()),
            "ts": pa.array([at for _, at, _ in rows], UTC),
            "visits": pa.array([visits for _, _, visits in rows], pa.int64()),
        }
    )
    pq.write_table(table, directory / f"{uuid.uuid4().hex}.parquet")


def _store(manifest: Path, environment: dict[str, str]) -> FeatureStore:
    settings = OperatorSettings(
        data_root=environment["PAVED_DATA_ROOT"], redis_url=environment["PAVED_REDIS_URL"]
    )
    return FeatureStore.from_manifests([manifest], settings, namespace="test")


@pytest.fixture
def environment(tmp_path: Path, endpoints: Endpoints) -> dict[str, str]:
    return {"PAVED_DATA_ROOT": str(tmp_path), "PAVED_REDIS_URL": endpoints.redis}


def _materialize(environment: dict[str, str], *arguments: str) -> str:
    result = CliRunner().invoke(
        main, ["features", "materialize", *arguments, "-n", "test"], env=environment
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_rows_already_past_their_ttl_are_reported_as_expired_not_readable(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    name, manifest = _manifest(tmp_path, ttl="1h")
    _write(tmp_path, [(user, OLD, 1) for user in range(3)] + [(9, NOW, 5)])

    output = _materialize(environment, name, "--manifest", str(manifest))

    assert "4 of 4 rows written" in output
    assert "1 of 4 rows readable online now; 3 expired" in output
    assert "ttl of 1:00:00" in output
    store = _store(manifest, environment)
    online = store.get_online_features(
        features=[f"{name}:visits"], entity_rows=[{"user_id": 0}, {"user_id": 9}]
    )
    # Three days old is past twice the ttl too: Redis dropped the key as it was written.
    assert [statuses[0] for statuses in online.statuses] == [
        ValueStatus.NOT_FOUND,
        ValueStatus.PRESENT,
    ]


def test_as_of_backfills_each_entitys_latest_row_as_of_then(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    name, manifest = _manifest(tmp_path, ttl="0s")
    _write(tmp_path, [(1, OLD, 10), (1, NOW - dt.timedelta(hours=1), 20), (2, NOW, 30)])
    as_of = (OLD + dt.timedelta(days=1)).isoformat()

    output = _materialize(environment, name, "--manifest", str(manifest), "--as-of", as_of)

    assert "1 of 1 rows written" in output
    assert f"event watermark {OLD}" in output
    store = _store(manifest, environment)
    online = store.get_online_features(
        features=[f"{name}:visits"], entity_rows=[{"user_id": 1}, {"user_id": 2}]
    )
    assert online.to_dict()["visits"] == [10, None]


def test_an_as_of_without_a_time_zone_is_refused(
    tmp_path: Path, environment: dict[str, str]
) -> None:
    name, manifest = _manifest(tmp_path, ttl="0s")
    result = CliRunner().invoke(
        main,
        ["features", "materialize", name, "--manifest", str(manifest), "--as-of", "2026-01-01"],
        env=environment,
    )
    assert result.exit_code == 2
    assert "'2026-01-01' has no time zone" in result.output
