"""Streaming prediction's worker: a consumer in a Redis Streams group that scores events.

Each batch (at most the plan's batch size: memory stays bounded whatever the stream holds):
read, join each event's entity's online features, score, then for each event record its
result once: a Lua script keeps the first result of an event id (a marker key, for the dedup
window) and appends it to the output stream only then, so an event delivered twice has one
effect and one result. The online store gets the recorded result (newer events win), and only
then is the event acknowledged: at-least-once. An event that cannot be scored is parked in the
dead-letter stream with its reason and acknowledged. A consumer's own pending events come
first after a restart; another consumer's, idle past the claim timeout, are claimed.

    python -m paved.streaming_prediction --plan PLAN.json --consumer NAME [--parent PID]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast

import pandas as pd
import pyarrow as pa
import redis
from prometheus_client import Counter, Histogram, start_http_server

from paved.assembly import online_store, prediction_log, scorer
from paved.core.model_versions import model_of
from paved.core.prediction_log import Prediction, entity_key, logged_features, sampled
from paved.core.reasons import StreamingPredictionReason as Reason
from paved.core.streaming_predictions import (
    EVENT_FIELD,
    EVENT_TIME,
    RESULT_FIELD,
    WorkerPlan,
    dead_letter_stream,
    marker_prefix,
    prediction_view,
    stream_time,
)
from paved.errors import TransientError
from paved.features import FeatureStore
from paved.ports.monitoring import PredictionLogWriter
from paved.ports.online import OnlineFeatures, OnlineStore, ValueStatus
from paved.ports.streaming import Scorer
from paved.services.prediction_log_buffer import LogBuffer
from paved.settings import OperatorSettings

EVENTS: Final = Counter(
    "paved_streaming_prediction_events_total",
    "Events a worker finished, by outcome: scored, duplicate (recorded before), parked.",
    ["namespace", "streaming_prediction", "outcome"],
)
LOGGED: Final = Counter(
    "paved_streaming_prediction_logged_total",
    "Scored events the worker wrote to the prediction log, or could not (failed: dropped).",
    ["namespace", "streaming_prediction", "outcome"],
)
LATENCY: Final = Histogram(
    "paved_streaming_prediction_latency_seconds",
    "From an event's append to the input stream to its result recorded and online.",
    ["namespace", "streaming_prediction"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# KEYS[1] the event's marker, KEYS[2] the stream its outcome goes to (output or dead letters);
# ARGV: the outcome, the dedup window (ms), the stream's approximate length cap, then the entry's
# fields and values. Returns the event's recorded outcome and 1 if this call recorded it, 0 if
# an earlier one had (then nothing is appended).
_RECORD: Final = """
local kept = redis.call('GET', KEYS[1])
if kept then return {kept, 0} end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', unpack(ARGV, 4))
return {ARGV[1], 1}
"""
_USABLE: Final = (ValueStatus.PRESENT, ValueStatus.STALE)

Entry = tuple[bytes, dict[bytes, bytes]]


@dataclass(frozen=True)
class Event:
    entry_id: str
    fields: Mapping[bytes, bytes]
    entity: dict[str, int | str]


@dataclass(frozen=True)
class Parked:
    entry_id: str
    fields: Mapping[bytes, bytes]
    reason: Reason
    message: str


@dataclass
class Recorded:
    """A batch's outcomes as recorded: the results to put online (by event id), the events this
    batch scored first (what the log takes), and counts."""

    results: dict[str, Any] = field(default_factory=dict)
    first: set[str] = field(default_factory=set)
    scored: int = 0
    parked: int = 0
    duplicates: int = 0

    def count(self, kept: dict[str, Any], *, fresh: bool, parked: bool) -> None:
        if "prediction" in kept:  # an event first parked stays parked, whatever came later
            self.results[kept["event_id"]] = kept
        if not fresh:
            self.duplicates += 1
        elif parked:
            self.parked += 1
        else:
            self.scored += 1
            self.first.add(kept["event_id"])


@dataclass(frozen=True)
class BatchReport:
    read: int
    scored: int = 0
    duplicates: int = 0
    parked: int = 0


class PredictionConsumer:
    def __init__(
        self,
        plan: WorkerPlan,
        *,
        client: redis.Redis,
        store: FeatureStore,
        online: OnlineStore,
        scoring: Scorer,
        consumer: str,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        log: PredictionLogWriter | None = None,
    ) -> None:
        self._plan, self._client, self._store, self._online = plan, client, store, online
        self._scorer, self._consumer, self._clock = scoring, consumer, clock
        self.log = _log_buffer(plan, log)
        self._record = client.register_script(_RECORD)
        self._own_pending = True  # after a restart, this consumer's unacknowledged events first
        self._next_claim = 0.0
        self._view = prediction_view(plan.namespace, plan.name, plan.join_keys)
        self._labels = (plan.namespace, plan.name)
        try:
            client.xgroup_create(plan.stream, plan.group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def consume_once(self, block_ms: int = 1000) -> BatchReport:
        """Read one batch, score and record it, acknowledge it; what became of its events."""
        entries = self._entries(block_ms)
        if not entries:
            self._write_log()  # what is held is written once it is old enough
            return BatchReport(0)
        try:
            return self._handle(entries)
        except (TransientError, redis.ConnectionError, redis.TimeoutError):
            self._own_pending = True  # nothing acknowledged: this batch is read again
            raise

    def _entries(self, block_ms: int) -> list[Entry]:
        size, plan = self._plan.batch_size, self._plan
        if self._own_pending:
            mine: Any = self._client.xreadgroup(
                plan.group, self._consumer, {plan.stream: "0"}, count=size
            )
            if mine and mine[0][1]:
                return list(mine[0][1])
            self._own_pending = False
        if time.monotonic() >= self._next_claim:
            self._next_claim = time.monotonic() + plan.claim_idle_ms / 2000
            claimed: Any = self._client.xautoclaim(
                plan.stream, plan.group, self._consumer, plan.claim_idle_ms, "0-0", count=size
            )
            if claimed[1]:
                return [entry for entry in claimed[1] if entry[1] is not None]
        answer: Any = self._client.xreadgroup(
            plan.group, self._consumer, {plan.stream: ">"}, count=size, block=block_ms
        )
        return list(answer[0][1]) if answer else []

    def _handle(self, entries: Sequence[Entry]) -> BatchReport:
        events, parked = _parse(entries, self._plan.join_keys)
        frame, joined, missing = self._join(events, self._clock())
        scored, failed = self._score(frame, joined)
        outcome = self._record_all(scored, [*parked, *missing, *failed])
        if self._plan.online and outcome.results:
            self._store_online(outcome.results)
        if self.log is not None:  # held before the acknowledgement, written after
            self.log.hold(self._sampled(scored, frame, joined, outcome.first))
        self._client.xack(self._plan.stream, self._plan.group, *[e[0] for e in entries])
        done = self._clock()
        for event_id in outcome.results:
            LATENCY.labels(*self._labels).observe((done - stream_time(event_id)).total_seconds())
        report = BatchReport(len(entries), outcome.scored, outcome.duplicates, outcome.parked)
        EVENTS.labels(*self._labels, "scored").inc(report.scored)
        EVENTS.labels(*self._labels, "duplicate").inc(report.duplicates)
        EVENTS.labels(*self._labels, "parked").inc(report.parked)
        self._write_log()  # after the results are out: a log write never delays them
        return report

    def _join(
        self, events: Sequence[Event], now: dt.datetime
    ) -> tuple[pd.DataFrame, list[Event], list[Parked]]:
        """Each event's features in the plan's order; events whose entity a view lacks parked."""
        refs = self._plan.features
        names = [ref.partition(":")[2] for ref in refs]
        if not events:
            return pd.DataFrame(columns=names), [], []
        online = self._store.get_online_features([e.entity for e in events], refs, now)
        order = [online.columns.index(ref.replace(":", "__", 1)) for ref in refs]
        rows, joined, parked = [], [], []
        for index, event in enumerate(events):
            absent = _absent(online, index, order, refs)
            if absent:
                message = f"no online value for {', '.join(absent)} of entity {event.entity}"
                parked.append(
                    Parked(event.entry_id, event.fields, Reason.FEATURES_MISSING, message)
                )
                continue
            rows.append([online.values[index][j] for j in order])
            joined.append(event)
        return pd.DataFrame(rows, columns=names), joined, parked

    def _score(
        self, frame: pd.DataFrame, events: Sequence[Event]
    ) -> tuple[list[tuple[Event, float]], list[Parked]]:
        """Scores for the batch; if it fails, event by event, parking those that fail alone. An
        unreachable scorer (TransientError) is no event's fault: it propagates."""
        if not events:
            return [], []
        try:
            return _finite(events, self._scorer.score(frame))
        except TransientError:
            raise
        except Exception:  # some event breaks the model: find which
            scored: list[tuple[Event, float]] = []
            parked: list[Parked] = []
            for index, event in enumerate(events):
                one, bad = self._score_one(frame.iloc[[index]], event)
                scored += one
                parked += bad
            return scored, parked

    def _score_one(
        self, row: pd.DataFrame, event: Event
    ) -> tuple[list[tuple[Event, float]], list[Parked]]:
        try:
            return _finite([event], self._scorer.score(row))
        except TransientError:
            raise
        except Exception as error:  # whatever the model raises on this event parks it
            return [], [Parked(event.entry_id, event.fields, Reason.SCORING_FAILED, str(error))]

    def _record_all(
        self, scored: Sequence[tuple[Event, float]], parked: Sequence[Parked]
    ) -> Recorded:
        """Each event's outcome recorded once for its id, in one round trip: a result to the
        output stream, a parked event to the dead letters; an event that had one keeps it."""
        plan, pipe = self._plan, self._client.pipeline(transaction=False)
        prefix, letters = (
            marker_prefix(plan.namespace, plan.name),
            dead_letter_stream(plan.namespace, plan.name),
        )
        outcomes: list[tuple[str, str, str, list[bytes | str]]] = []
        for event, score in scored:
            result = _result(event, score, plan.model_version)
            fields: list[bytes | str] = ["event_id", event.entry_id, RESULT_FIELD, result]
            outcomes.append((event.entry_id, plan.output_stream, result, fields))
        for letter in parked:
            marker = json.dumps({"event_id": letter.entry_id, "parked": letter.reason.value})
            outcomes.append((letter.entry_id, letters, marker, _letter(letter)))
        for event_id, stream, outcome, entry in outcomes:
            arguments: list[bytes | str | int] = [outcome, plan.dedup_ms, plan.output_max_length]
            self._record(keys=[prefix + event_id, stream], args=[*arguments, *entry], client=pipe)
        answers = pipe.execute()
        recorded = Recorded()
        kinds = [False] * len(scored) + [True] * len(parked)
        for (kept, fresh), was_parked in zip(answers, kinds, strict=True):
            recorded.count(json.loads(kept), fresh=bool(fresh), parked=was_parked)
        return recorded

    def _sampled(
        self,
        scored: Sequence[tuple[Event, float]],
        frame: pd.DataFrame,
        joined: Sequence[Event],
        first: set[str],
    ) -> list[Prediction]:
        """The predictions this batch recorded first that the log samples (by event id), with
        the features each was scored on."""
        rate = self._plan.log_rate
        picked = [(e, s) for e, s in scored if e.entry_id in first and sampled(e.entry_id, rate)]
        if not picked:
            return []
        features = dict(zip((e.entry_id for e in joined), frame.to_dict("records"), strict=True))
        now, version = self._clock(), self._plan.model_version
        return [
            Prediction(
                e.entry_id,
                entity_key(e.entity),
                now,
                version,
                score,
                logged_features=logged_features(features[e.entry_id]),
            )
            for e, score in picked
        ]

    def _write_log(self) -> None:
        if self.log is None:
            return
        before = self.log.written, self.log.failed
        self.log.flush_if_due()
        LOGGED.labels(*self._labels, "written").inc(self.log.written - before[0])
        failed = self.log.failed - before[1]
        if failed:
            LOGGED.labels(*self._labels, "failed").inc(failed)
            print(f"{self._consumer}: {failed} predictions not logged: {self.log.last_error}")

    def _store_online(self, recorded: Mapping[str, Any]) -> None:
        results = list(recorded.items())
        columns: dict[str, Any] = {
            key: pa.array([r["entity"][key] for _, r in results]) for key in self._plan.join_keys
        }
        stamps = [stream_time(event_id) for event_id, _ in results]
        columns[EVENT_TIME] = pa.array(stamps, pa.timestamp("us", tz="UTC"))
        columns["prediction"] = pa.array([r["prediction"] for _, r in results], pa.float64())
        columns["model_version"] = pa.array([r["model_version"] for _, r in results], pa.string())
        self._online.write(self._view, pa.table(columns))


def _log_buffer(plan: WorkerPlan, log: PredictionLogWriter | None) -> LogBuffer | None:
    if log is None or plan.log_rate == 0:
        return None
    model = model_of(plan.model, plan.namespace)
    return LogBuffer(log, plan.namespace, model, f"stream/{plan.name}")


def _letter(parked: Parked) -> list[bytes | str]:
    """A parked event's dead-letter entry: its own fields, its id, the reason and the error."""
    fields: list[bytes | str] = [item for pair in parked.fields.items() for item in pair]
    return [
        *fields,
        "event_id",
        parked.entry_id,
        "reason",
        parked.reason.value,
        "error",
        parked.message,
    ]


def _parse(entries: Sequence[Entry], join_keys: Sequence[str]) -> tuple[list[Event], list[Parked]]:
    """Entries as events; those that are not JSON objects naming their entity, parked."""
    events, parked = [], []
    for raw_id, fields in entries:
        entry_id = raw_id.decode()
        try:
            body = json.loads(fields[EVENT_FIELD.encode()])
        except (KeyError, ValueError) as error:
            message = f"the entry's {EVENT_FIELD!r} field is not a JSON object: {error}"
            parked.append(Parked(entry_id, fields, Reason.NOT_AN_EVENT, message))
            continue
        entity = {key: body.get(key) for key in join_keys} if isinstance(body, dict) else {}
        bad = [k for k in join_keys if type(entity.get(k)) not in (int, str)]
        if bad:
            message = f"the event lacks {', '.join(bad)} (an integer or a string each)"
            parked.append(Parked(entry_id, fields, Reason.ENTITY_MISSING, message))
            continue
        events.append(Event(entry_id, fields, cast(dict[str, int | str], entity)))
    return events, parked


def _absent(
    online: OnlineFeatures, index: int, order: Sequence[int], refs: Sequence[str]
) -> list[str]:
    statuses = online.statuses[index]
    return [ref for ref, j in zip(refs, order, strict=True) if statuses[j] not in _USABLE]


def _finite(
    events: Sequence[Event], scores: Sequence[float]
) -> tuple[list[tuple[Event, float]], list[Parked]]:
    if len(scores) != len(events):
        raise ValueError(f"the model answered {len(scores)} scores for {len(events)} events")
    scored = [(e, s) for e, s in zip(events, scores, strict=True) if math.isfinite(s)]
    parked = [
        Parked(e.entry_id, e.fields, Reason.SCORING_FAILED, f"the model scored {s}")
        for e, s in zip(events, scores, strict=True)
        if not math.isfinite(s)
    ]
    return scored, parked


def _result(event: Event, score: float, model_version: str) -> str:
    """An event's result as recorded: canonical JSON, so two scorings compare as text."""
    body = {
        "event_id": event.entry_id,
        "entity": event.entity,
        "prediction": score,
        "model_version": model_version,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def run(plan: WorkerPlan, consumer: str, *, parent: int | None, ready: Path | None) -> None:
    """Consume until the parent (the operator that started this worker) is gone; once the
    model is loaded and the group joined, write this process's pid to `ready`."""
    settings = OperatorSettings()
    store = FeatureStore.from_specs(plan.views, settings, plan.namespace)
    worker = PredictionConsumer(
        plan,
        client=redis.Redis.from_url(settings.redis_url),
        store=store,
        online=online_store(settings),
        scoring=scorer(plan.scoring, plan.model_uri, plan.endpoint),
        consumer=consumer,
        log=prediction_log(settings),
    )
    if ready is not None:
        ready.write_text(str(os.getpid()))
    pause = 0.1
    try:
        while parent is None or os.getppid() == parent:
            try:
                worker.consume_once(block_ms=1000)
                pause = 0.1
            except (TransientError, redis.ConnectionError, redis.TimeoutError) as error:
                print(f"{consumer}: {error}; again in {pause:g}s", flush=True)
                time.sleep(pause)  # backpressure: nothing more is read while a service is down
                pause = min(pause * 2, 5.0)
    finally:
        if worker.log is not None:
            worker.log.flush()  # what is held goes to the log before the worker stops


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m paved.streaming_prediction")
    parser.add_argument("--plan", type=Path, required=True, help="The plan the operator wrote.")
    parser.add_argument("--consumer", required=True, help="This worker's name in the group.")
    parser.add_argument("--parent", type=int, help="Stop when this process is gone.")
    parser.add_argument("--metrics-file", type=Path, help="Serve metrics; write host:port here.")
    parser.add_argument("--ready-file", type=Path, help="Where to write the pid once consuming.")
    arguments = parser.parse_args(argv)
    if arguments.metrics_file is not None:
        server, _ = start_http_server(0, "127.0.0.1")
        arguments.metrics_file.write_text(f"127.0.0.1:{server.server_port}")
    plan = WorkerPlan.model_validate_json(arguments.plan.read_text())
    run(plan, arguments.consumer, parent=arguments.parent, ready=arguments.ready_file)


if __name__ == "__main__":
    main()
