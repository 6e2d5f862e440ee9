"""Materialization survives the online store going away, and the skew check compares online
with offline as of the same moment."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paved.adapters.offline.duckdb import DuckDBEngine
from paved.adapters.online.redis import RedisOnlineStore
from paved.api.feature_view import FeatureViewSpec
from paved.core.feature_views import ViewDefinition, view_definition
from paved.errors import StoreUnavailableError
from paved.features import FeatureStore
from paved.services.materialization import Watermarks, materialize
from paved_local.platform import Endpoints

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
UTC = pa.timestamp("us", tz="UTC")
LATENESS = dt.timedelta(hours=1)


def _view(root: Path) -> ViewDefinition:
    spec = FeatureViewSpec.model_validate(
        {
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "source": {
                "path": "rows/*.parquet",
                "timestampField": "ts",
                "createdTimestampField": "created",
            },
            "features": [{"name": "score", "dtype": "float64"}],
        }
    )
    return view_definition(f"scores-{uuid.uuid4().hex[:8]}", spec, str(root), namespace="test")


def _write(root: Path, users: range, at: dt.datetime, score: float) -> None:
    rows = root / "test" / "rows"  # under the data root of the view's namespace, "test"
    rows.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "user_id": pa.array(list(users), pa.int64()),
            "ts": pa.array([at] * len(users), UTC),
            "created": pa.array([at] * len(users), UTC),
            "score": pa.array([score + u for u in users], pa.float64()),
        }
    )
    pq.write_table(table, rows / f"{uuid.uuid4().hex}.parquet")


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_run_against_a_dead_store_fails_cleanly_and_the_next_resumes_from_the_watermark(
    tmp_path: Path, endpoints: Endpoints
) -> None:
    view = _view(tmp_path)
    offline = DuckDBEngine()
    online = RedisOnlineStore.from_url(endpoints.redis)
    _write(tmp_path, range(10), NOW - dt.timedelta(minutes=30), 1.0)
    first = materialize(view, offline, online, Watermarks(), LATENESS)
    assert first.written == 10

    _write(tmp_path, range(5, 15), NOW - dt.timedelta(minutes=10), 100.0)
    down = RedisOnlineStore.from_url(f"redis://127.0.0.1:{_closed_port()}/0")
    with pytest.raises(StoreUnavailableError):
        materialize(view, offline, down, first.watermarks, LATENESS)

    # The store is back: the same watermarks (the failed run recorded none) catch up exactly.
    resumed = materialize(view, offline, online, first.watermarks, LATENESS)
    assert resumed.written == 10
    assert resumed.watermarks.event == NOW - dt.timedelta(minutes=10)
    store = FeatureStore({view.name: view}, offline, online)
    rows = store.get_online_features([{"user_id": 0}, {"user_id": 14}], [f"{view.name}:score"], NOW)
    assert [row[f"{view.name}__score"].value for row in rows.rows()] == [1.0, 114.0]


def test_skew_check_finds_online_values_that_lag_the_offline_store(
    tmp_path: Path, endpoints: Endpoints
) -> None:
    view = _view(tmp_path)
    offline = DuckDBEngine()
    store = FeatureStore({view.name: view}, offline, RedisOnlineStore.from_url(endpoints.redis))
    _write(tmp_path, range(20), NOW - dt.timedelta(minutes=30), 1.0)
    store.materialize(view.name)
    entities = pa.table({"user_id": pa.array(range(20), pa.int64())})
    assert store.skew_check(view.name, entities, NOW).mismatches == []

    # Newer rows land offline but are not materialized yet: the check names each one.
    _write(tmp_path, range(3), NOW - dt.timedelta(minutes=5), 50.0)
    report = store.skew_check(view.name, entities, NOW)
    assert report.compared == 20
    assert sorted(m.entity["user_id"] for m in report.mismatches) == [0, 1, 2]
    assert report.mismatches[0].online == 1.0
    assert report.mismatch_rate == pytest.approx(3 / 20)
