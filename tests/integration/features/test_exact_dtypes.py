"""float32, int32 and timestamp features end to end: Parquet, the join, materialization into Redis,
the online read, push and the feature server's JSON, each value exactly as the source holds it."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from aiohttp.test_utils import TestClient, TestServer

from paved.feature_server import application
from paved.features import FeatureStore, rows_to_table
from paved_local.platform import Endpoints
from tests.support.feature_store import one_view_store

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
UTC = pa.timestamp("us", tz="UTC")
SIGNED_UP = dt.datetime(2024, 2, 29, 23, 59, 59, 123456, tzinfo=dt.UTC)
RATING = pa.scalar(0.1, pa.float32()).as_py()  # 0.100000001490116…: float32's 0.1


@pytest.fixture
def store(tmp_path: Path, endpoints: Endpoints) -> FeatureStore:
    source = pa.table(
        {
            "driver_id": pa.array([1, 2], pa.int64()),
            "ts": pa.array([NOW - dt.timedelta(hours=1)] * 2, UTC),
            "rating": pa.array([0.1, None], pa.float32()),
            "trips": pa.array([2**31 - 1, None], pa.int32()),
            "signed_up": pa.array([SIGNED_UP, None], UTC),
        }
    )
    features = [
        {"name": "rating", "dtype": "float32", "min": 0, "max": 5},
        {"name": "trips", "dtype": "int32"},
        {"name": "signed_up", "dtype": "timestamp"},
    ]
    return one_view_store(
        tmp_path, endpoints.redis, keys=["driver_id"], features=features, source=source, ttl="1d"
    )


def _refs(store: FeatureStore) -> list[str]:
    (name,) = store.view_names
    return [f"{name}:{feature}" for feature in ("rating", "trips", "signed_up")]


def test_the_join_keeps_float32_int32_and_timestamps_and_so_does_pandas(
    store: FeatureStore,
) -> None:
    entity_rows = [{"driver_id": 1, "event_timestamp": NOW}]
    training = store.get_historical_features(entity_rows, _refs(store)).to_df()

    assert training["rating"].dtype == np.float32
    assert training["trips"].dtype == np.int32
    assert str(training["signed_up"].dtype) == "datetime64[us, UTC]"
    assert training.loc[0, "rating"] == np.float32(0.1)
    assert training.loc[0, "signed_up"] == SIGNED_UP


def test_materialized_values_read_online_exactly_as_offline(store: FeatureStore) -> None:
    (name,) = store.view_names
    store.materialize(name)
    online = store.get_online_features([{"driver_id": 1}, {"driver_id": 2}], _refs(store), NOW)

    assert online.values == [[RATING, 2**31 - 1, SIGNED_UP], [None, None, None]]
    entities = pa.table({"driver_id": pa.array([1, 2], pa.int64())})
    assert store.skew_check(name, entities, NOW).mismatches == []


def test_pushed_timestamps_come_back_from_the_feature_server_as_iso_8601(
    store: FeatureStore,
) -> None:
    (name,) = store.view_names
    pushed = {"driver_id": 3, "ts": NOW.isoformat(), "rating": 4.5, "trips": 12}
    store.push(
        name,
        rows_to_table(store.view(name), [pushed | {"signed_up": "2025-01-02T03:04:05+01:00"}]),
        NOW,
    )

    async def read() -> object:
        async with TestClient(TestServer(application(store))) as client:
            body = {"entities": [{"driver_id": 3}], "features": _refs(store)}
            response = await client.post("/v1/features/online", json=body)
            assert response.status == 200
            return await response.json()

    answer = asyncio.run(read())
    assert answer["values"] == [[4.5, 12, "2025-01-02T02:04:05+00:00"]]  # type: ignore[index]
