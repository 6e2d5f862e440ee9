"""Online reads called as Feast's are: `features=`, `entity_rows=`, `.to_dict()`, `now` from the
clock; keys from numpy and pandas work, and a key of the wrong type is refused by name instead of
reading as an entity never written."""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from aiohttp.test_utils import TestClient, TestServer

from paved.feature_server import application
from paved.features import FeatureStore
from paved.ports.online import ValueStatus
from paved_local.platform import Endpoints
from tests.support.feature_store import one_view_store

RECENT = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
UTC = pa.timestamp("us", tz="UTC")


@pytest.fixture
def store(tmp_path: Path, endpoints: Endpoints) -> FeatureStore:
    source = pa.table(
        {
            "user_id": pa.array([1, 2], pa.int64()),
            "ts": pa.array([RECENT, RECENT], UTC),
            "score": [0.5, 0.25],
            "country": ["DE", "FR"],
        }
    )
    features = [{"name": "score", "dtype": "float64"}, {"name": "country", "dtype": "string"}]
    store = one_view_store(
        tmp_path, endpoints.redis, keys=["user_id"], features=features, source=source, ttl="1d"
    )
    store.materialize(store.view_names[0])
    return store


def _refs(store: FeatureStore) -> list[str]:
    (name,) = store.view_names
    return [f"{name}:score", f"{name}:country"]


def test_feasts_call_shape_reads_now_and_gives_a_dict(store: FeatureStore) -> None:
    online = store.get_online_features(
        features=_refs(store), entity_rows=[{"user_id": 1}, {"user_id": 3}]
    )
    assert online.to_dict() == {
        "user_id": [1, 3],
        "score": [0.5, None],
        "country": ["DE", None],
    }
    assert [statuses[0] for statuses in online.statuses] == [
        ValueStatus.PRESENT,
        ValueStatus.NOT_FOUND,
    ]


def test_full_feature_names_prefix_the_view_and_to_df_gives_pandas(store: FeatureStore) -> None:
    (name,) = store.view_names
    online = store.get_online_features(
        features=_refs(store), entity_rows=[{"user_id": 2}], full_feature_names=True
    )
    frame = online.to_df()
    assert list(frame.columns) == ["user_id", f"{name}__score", f"{name}__country"]
    assert frame.loc[0, f"{name}__country"] == "FR"


def test_keys_from_numpy_and_pandas_read_as_the_integers_they_are(store: FeatureStore) -> None:
    users = pd.DataFrame({"user_id": [1, 2]})
    from_rows = store.get_online_features(
        features=_refs(store), entity_rows=users.to_dict("records")
    )
    from_frame = store.get_online_features(features=_refs(store), entity_rows=users)
    from_numpy = store.get_online_features(
        features=_refs(store), entity_rows=[{"user_id": np.int64(1)}, {"user_id": np.int32(2)}]
    )
    assert (
        from_rows.values
        == from_frame.values
        == from_numpy.values
        == [
            [0.5, "DE"],
            [0.25, "FR"],
        ]
    )
    assert from_numpy.to_dict()["user_id"] == [1, 2]


@pytest.mark.parametrize("key", ["1", 1.0, True])
def test_a_key_of_the_wrong_type_is_refused_naming_the_entity_and_its_type(
    store: FeatureStore, key: object
) -> None:
    with pytest.raises(
        TypeError, match=r"join key 'user_id' of entity 'user' .* must be an integer"
    ):
        store.get_online_features(features=_refs(store), entity_rows=[{"user_id": key}])


def test_the_earlier_argument_order_still_reads(store: FeatureStore) -> None:
    now = dt.datetime.now(dt.UTC)
    online = store.get_online_features([{"user_id": 2}], _refs(store), now)
    assert online.values == [[0.25, "FR"]]
    assert store.get_online_features([], _refs(store), now).values == []


def test_the_feature_server_answers_a_wrong_key_type_with_400_and_the_reason(
    store: FeatureStore,
) -> None:
    async def read() -> tuple[int, Any]:
        async with TestClient(TestServer(application(store))) as client:
            body = {"entities": [{"user_id": "1"}], "features": _refs(store)}
            response = await client.post("/v1/features/online", json=body)
            return response.status, await response.json()

    status, answer = asyncio.run(read())
    assert status == 400
    assert "join key 'user_id' of entity 'user'" in answer["error"]
    assert "must be an integer, not '1' (str)" in answer["error"]


def test_the_feature_server_freezes_its_heap_once_started(store: FeatureStore) -> None:
    """As the online benchmark measures reads: no full collection walks start-up's objects."""
    gc.unfreeze()

    async def start() -> int:
        async with TestClient(TestServer(application(store))):
            return gc.get_freeze_count()

    try:
        assert asyncio.run(start()) > 0
    finally:
        gc.unfreeze()
