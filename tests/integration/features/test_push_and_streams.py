"""Push over HTTP and through a Redis stream: rows land online and offline alike; online reads
over HTTP answer columnar."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from paved.adapters.offline.duckdb import DuckDBEngine
from paved.adapters.online.redis import RedisOnlineStore
from paved.api.feature_view import FeatureViewSpec
from paved.core.feature_views import view_definition
from paved.feature_server import application
from paved.features import FeatureStore
from paved.streaming import StreamConsumer, dead_letter_key, publish
from paved_local.platform import Endpoints

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def store(tmp_path: Path, endpoints: Endpoints) -> FeatureStore:
    name = f"clicks-{uuid.uuid4().hex[:8]}"
    spec = FeatureViewSpec.model_validate(
        {
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "source": {
                "path": "clicks/*.parquet",
                "timestampField": "ts",
                "createdTimestampField": "created",
            },
            "ttl": "7d",
            "features": [
                {"name": "clicks", "dtype": "int64"},
                {"name": "country", "dtype": "string", "nullable": True},
            ],
        }
    )
    clicks = tmp_path / "test" / "clicks"  # under the data root of the view's namespace
    clicks.mkdir(parents=True)
    seed = pa.table(
        {
            "user_id": pa.array([1], pa.int64()),
            "ts": pa.array([NOW - dt.timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
            "created": pa.array([NOW - dt.timedelta(hours=1)], pa.timestamp("us", tz="UTC")),
            "clicks": pa.array([3], pa.int64()),
            "country": pa.array(["DE"], pa.string()),
        }
    )
    pq.write_table(seed, clicks / "seed.parquet")
    view = view_definition(name, spec, str(tmp_path), namespace="test")
    return FeatureStore({name: view}, DuckDBEngine(), RedisOnlineStore.from_url(endpoints.redis))


def _only_view(store: FeatureStore) -> str:
    (name,) = store.view_names
    return name


def _offline_clicks(store: FeatureStore, user: int) -> int | None:
    name = _only_view(store)
    entities = pa.table(
        {
            "user_id": [user],
            # As of after now, not after NOW: a pushed row counts once it was created (the
            # push's own time), and the suite may reach this test long after it was collected.
            "event_timestamp": pa.array(
                [dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    joined = store.get_historical_features(entities, [f"{name}:clicks"]).to_arrow()
    value: int | None = joined.column("clicks")[0].as_py()
    return value


def _online_clicks(store: FeatureStore, user: int) -> int | None:
    name = _only_view(store)
    online = store.get_online_features(
        [{"user_id": user}], [f"{name}:clicks"], NOW + dt.timedelta(minutes=5)
    )
    assert online.columns == (f"{name}__clicks",)
    ((value,),) = online.values
    return cast(int | None, value)


@dataclass(frozen=True)
class Http:
    """The feature server on a loopback port, called from synchronous tests."""

    client: TestClient[web.Request, web.Application]
    loop: asyncio.AbstractEventLoop

    def post(self, path: str, body: object) -> tuple[int, Any]:
        """The answer's status and JSON body."""

        async def call() -> tuple[int, Any]:
            response = await self.client.post(path, json=body)
            return response.status, await response.json()

        return self.loop.run_until_complete(call())


@pytest.fixture
def http(store: FeatureStore) -> Iterator[Http]:
    loop = asyncio.new_event_loop()
    test_client = TestClient(TestServer(application(store)), loop=loop)
    loop.run_until_complete(test_client.start_server())
    try:
        yield Http(test_client, loop)
    finally:
        loop.run_until_complete(test_client.close())
        loop.close()


def test_http_push_writes_online_and_offline(store: FeatureStore, http: Http) -> None:
    name = _only_view(store)
    rows = [{"user_id": 2, "ts": NOW.isoformat(), "clicks": 9, "country": "FR"}]

    assert http.post(f"/v1/push/{name}", {"rows": rows}) == (200, {"rows": 1, "written": 1})
    assert _online_clicks(store, 2) == 9
    assert _offline_clicks(store, 2) == 9


def test_http_push_refuses_bad_rows_naming_the_problem(store: FeatureStore, http: Http) -> None:
    name = _only_view(store)
    bad = [{"user_id": 2, "ts": "2026-11-26T10:00:00", "clicks": 1}]

    status, answer = http.post(f"/v1/push/{name}", {"rows": bad})
    assert status == 400
    assert "ts" in answer["error"]
    assert http.post("/v1/push/nope", {"rows": bad})[0] == 404
    assert _online_clicks(store, 2) is None


def test_http_online_read_answers_columnar_in_the_requested_order(
    store: FeatureStore, http: Http
) -> None:
    name = _only_view(store)
    rows = [{"user_id": 2, "ts": NOW.isoformat(), "clicks": 9, "country": "FR"}]
    http.post(f"/v1/push/{name}", {"rows": rows})
    body = {
        "entities": [{"user_id": 2}, {"user_id": 404}],
        "features": [f"{name}:country", f"{name}:clicks"],
    }

    read = http.post("/v1/features/online", body)
    unknown = http.post("/v1/features/online", body | {"features": [f"{name}:nope"]})

    assert read == (
        200,
        {
            "columns": [f"{name}__country", f"{name}__clicks"],
            "values": [["FR", 9], [None, None]],
            "statuses": [["present", "present"], ["notFound", "notFound"]],
            "eventTimestamps": {name: [NOW.isoformat(), None]},
        },
    )
    assert unknown[0] == 400
    assert "nope" in unknown[1]["error"]


def test_stream_consumer_pushes_rows_and_parks_bad_entries(
    store: FeatureStore, endpoints: Endpoints
) -> None:
    name = _only_view(store)
    client = redis.Redis.from_url(endpoints.redis)
    publish(
        client,
        name,
        namespace=store.namespace,
        rows=[
            {"user_id": 5, "ts": NOW.isoformat(), "clicks": 11, "country": None},
            {"user_id": 6, "ts": "yesterday", "clicks": 1},
            {"user_id": 7, "ts": NOW.isoformat(), "clicks": 13, "country": "IT"},
        ],
    )
    consumer = StreamConsumer(store, client, name, "test-consumer", clock=lambda: NOW)

    assert consumer.consume_once(block_ms=100) == 3
    assert (_online_clicks(store, 5), _online_clicks(store, 7)) == (11, 13)
    assert (_offline_clicks(store, 5), _offline_clicks(store, 7)) == (11, 13)
    parked: Any = client.xrange(dead_letter_key(store.namespace, name))
    assert len(parked) == 1
    assert b"ts" in parked[0][1][b"error"]
    assert consumer.consume_once(block_ms=100) == 0  # everything was acknowledged


def test_redelivered_entries_change_nothing(store: FeatureStore, endpoints: Endpoints) -> None:
    name = _only_view(store)
    client = redis.Redis.from_url(endpoints.redis)
    row = {"user_id": 8, "ts": NOW.isoformat(), "clicks": 21, "country": "ES"}
    publish(client, name, [row], namespace=store.namespace)
    first = StreamConsumer(store, client, name, "first", clock=lambda: NOW)
    first.consume_once(block_ms=100)
    older = row | {"clicks": 20, "ts": (NOW - dt.timedelta(minutes=1)).isoformat()}
    publish(client, name, [older], namespace=store.namespace)
    first.consume_once(block_ms=100)
    assert _online_clicks(store, 8) == 21  # an older event never overwrites a newer one
