"""The streaming prediction worker against the real Redis: an event delivered twice has one
effect, poison events are parked with their reason, a killed consumer's pending events are
claimed by another, and the backlog reads what the group has not scored."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis

from paved.adapters.online.redis import RedisOnlineStore
from paved.adapters.prediction_log.parquet import ParquetPredictionLog
from paved.adapters.streams.redis import RedisBacklogs
from paved.core.reasons import StreamingPredictionReason as Reason
from paved.core.streaming_predictions import WorkerPlan, prediction_view
from paved.ports.online import OnlineRequest
from paved.streaming_prediction import BatchReport, PredictionConsumer
from paved_local.platform import Endpoints
from tests.support.streaming import consumer, model, parked, plan, publish, results, seed_features
from tests.support.waiting import wait_for

NOW = dt.datetime.now(dt.UTC)
USERS = list(range(1, 11))


@pytest.fixture
def client(endpoints: Endpoints) -> redis.Redis:
    return redis.Redis.from_url(endpoints.redis)


@pytest.fixture
def namespace() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


def _plan(namespace: str, claim_idle: str = "3s") -> WorkerPlan:
    return plan(namespace, "churn-stream", f"events:{namespace}", claim_idle=claim_idle)


class LosesItsAcks(redis.Redis):
    """A worker that dies after its writes and before its acknowledgement."""

    def xack(self, *_: Any, **__: Any) -> Any:
        raise redis.ConnectionError("the worker died before acknowledging")


def _online_predictions(client: redis.Redis, plan: WorkerPlan, users: list[int]) -> list[Any]:
    view = prediction_view(plan.namespace, plan.name, plan.join_keys)
    read = RedisOnlineStore(client).read(
        [{"user_id": u} for u in users], [OnlineRequest(view, ("prediction", "model_version"))], NOW
    )
    return [row[0] for row in read.values]


def _read(worker: PredictionConsumer) -> BatchReport | None:
    """One batch's report, or None when there was nothing to read."""
    report = worker.consume_once(block_ms=100)
    return report if report.read else None


def test_an_event_delivered_twice_has_one_effect(
    client: redis.Redis, endpoints: Endpoints, namespace: str, tmp_path: Path
) -> None:
    prediction = _plan(namespace, claim_idle="100ms")
    store = seed_features(client, tmp_path, namespace, USERS, NOW)
    ids = publish(client, prediction.stream, [{"user_id": u} for u in (3, 10, 7)])
    dying = consumer(prediction, LosesItsAcks.from_url(endpoints.redis), store, "first")
    with pytest.raises(redis.ConnectionError):
        dying.consume_once(block_ms=100)  # scored and recorded, never acknowledged
    first = results(client, prediction)
    # Another consumer, with a model that scores the other way, gets the same events again.
    other = consumer(prediction, client, store, "second", scoring=model(leaning=-1))
    report = wait_for(lambda: _read(other), 10, "the unacknowledged events")
    assert report == BatchReport(read=3, scored=0, duplicates=3, parked=0)
    assert results(client, prediction) == first  # one result per event, the first one
    assert [r["event_id"] for r in first] == ids
    online = _online_predictions(client, prediction, [3, 10, 7])
    assert online == [r["prediction"] for r in first]
    assert client.xpending(prediction.stream, prediction.group)["pending"] == 0


def test_a_scored_event_is_logged_once_with_its_features_though_delivered_twice(
    client: redis.Redis, endpoints: Endpoints, namespace: str, tmp_path: Path
) -> None:
    prediction = _plan(namespace, claim_idle="100ms").model_copy(update={"log_rate": 1.0})
    log = ParquetPredictionLog(str(tmp_path))
    store = seed_features(client, tmp_path, namespace, USERS, NOW)
    ids = publish(client, prediction.stream, [{"user_id": u} for u in (3, 10, 7)])
    dying = consumer(prediction, LosesItsAcks.from_url(endpoints.redis), store, "first", log=log)
    with pytest.raises(redis.ConnectionError):
        dying.consume_once(block_ms=100)  # scored, recorded and logged; never acknowledged
    assert dying.log is not None
    dying.log.flush()
    other = consumer(prediction, client, store, "second", log=log)
    wait_for(lambda: _read(other), 10, "the unacknowledged events")
    assert other.log is not None
    other.log.flush()

    logged = log.window(
        namespace,
        "churn",  # the model's name, as a ModelVersion and a ModelMonitor say it
        prediction.model_version,
        since=NOW - dt.timedelta(minutes=1),
        until=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1),
    )
    assert logged.samples == 3  # the redelivery scored nothing new, so logged nothing
    assert sorted(logged.entities) == sorted(f'{{"user_id":{u}}}' for u in (3, 10, 7))
    assert logged.inputs == {"clicks": [3, 10, 7], "minutes": [1.5, 5.0, 3.5]}
    assert [r["prediction"] for r in results(client, prediction)] == logged.scores
    assert [r["event_id"] for r in results(client, prediction)] == ids


def test_poison_events_are_parked_with_their_reason(
    client: redis.Redis, namespace: str, tmp_path: Path
) -> None:
    prediction = _plan(namespace)
    store = seed_features(client, tmp_path, namespace, USERS, NOW)
    good = publish(client, prediction.stream, [{"user_id": 4}])
    client.xadd(prediction.stream, {"event": "{not json"})
    publish(client, prediction.stream, [{"user": 4}, {"user_id": 4.5}, {"user_id": 999}])
    report = consumer(prediction, client, store, "only").consume_once(block_ms=100)
    assert report == BatchReport(read=5, scored=1, duplicates=0, parked=4)
    assert [r["event_id"] for r in results(client, prediction)] == good
    reasons = [entry["reason"] for entry in parked(client, prediction)]
    assert reasons == [
        Reason.NOT_AN_EVENT,
        Reason.ENTITY_MISSING,
        Reason.ENTITY_MISSING,
        Reason.FEATURES_MISSING,
    ]
    assert "activity:clicks" in parked(client, prediction)[-1]["error"]
    assert client.xpending(prediction.stream, prediction.group)["pending"] == 0


def test_a_killed_consumers_pending_events_are_claimed_by_another(
    client: redis.Redis, namespace: str, tmp_path: Path
) -> None:
    prediction = _plan(namespace, claim_idle="200ms")
    store = seed_features(client, tmp_path, namespace, USERS, NOW)
    survivor = consumer(prediction, client, store, "survivor")  # makes the group
    ids = publish(client, prediction.stream, [{"user_id": u} for u in USERS])
    # The killed consumer read every event and died holding them.
    client.xreadgroup(prediction.group, "killed", {prediction.stream: ">"}, count=100)
    assert client.xpending(prediction.stream, prediction.group)["pending"] == len(USERS)
    wait_for(lambda: survivor.consume_once(block_ms=100).scored or None, 10, "the claimed events")
    assert sorted(r["event_id"] for r in results(client, prediction)) == sorted(ids)
    assert client.xpending(prediction.stream, prediction.group)["pending"] == 0


async def test_the_backlog_is_what_the_group_has_not_scored(
    client: redis.Redis, endpoints: Endpoints, namespace: str, tmp_path: Path
) -> None:
    prediction = _plan(namespace)
    store = seed_features(client, tmp_path, namespace, USERS, NOW)
    backlogs = RedisBacklogs.from_url(endpoints.redis)
    publish(client, prediction.stream, [{"user_id": u} for u in USERS])
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    unread = await backlogs.backlog(prediction.stream, prediction.group, later)
    assert unread.lag == len(USERS)
    assert unread.oldest_seconds is not None
    assert unread.oldest_seconds >= 5
    consumer(prediction, client, store, "only").consume_once(block_ms=100)
    caught_up = await backlogs.backlog(prediction.stream, prediction.group, later)
    assert (caught_up.lag, caught_up.pending, caught_up.oldest_seconds) == (0, 0, None)
    assert caught_up.entries_read == len(USERS)
