"""Logging predictions and feedback off the request path, as a model server's request logger does.

A request hands its records to a bounded queue and goes on: never waiting on a disk, never
failing for the log. A writer thread wakes every `flush_seconds` (at once when the logger
stops), takes what has queued, at most `batch_rows` at a time, and writes each partition's
records as one Parquet file (`paved.adapters.prediction_log.parquet`). It never waits on the
queue itself: a writer woken by each record cost every request a thread switch (0.6 ms of the
serving path's p50, measured). When the queue is full a record is dropped and counted: the log
samples, serving does not slow down.
"""

from __future__ import annotations

import collections
import datetime as dt
import logging
import math
import queue
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter

from paved.adapters.prediction_log import parquet
from paved.core.prediction_log import Outcome, OutcomeKind, Prediction, entity_key, sampled
from paved_local.dataplane.routing import Predictor, Route
from paved_local.dataplane.scores import Scores

log = logging.getLogger("paved_local.dataplane")

_STOP: Final = object()


@dataclass(frozen=True)
class LogSettings:
    data_root: Path  # each namespace's log under <data root>/<namespace>/
    rate: float = 1.0  # the share of requests logged, decided by request id
    capacity: int = 10_000  # records waiting to be written, at most
    batch_rows: int = 2_000
    flush_seconds: float = 1.0


class PredictionLogger:
    def __init__(self, settings: LogSettings, registry: CollectorRegistry) -> None:
        if not 0.0 <= settings.rate <= 1.0:
            raise ValueError(f"--prediction-log-rate is between 0 and 1, not {settings.rate}")
        self.settings = settings
        self._queue: queue.Queue[object] = queue.Queue(maxsize=settings.capacity)
        self.records = Counter(
            "paved_prediction_log_records",
            "Prediction log records: written, dropped (queue full), failed (write error)",
            ["kind", "result"],
            registry=registry,
        )
        for kind in ("prediction", "outcome"):
            for result in ("written", "dropped", "failed"):
                self.records.labels(kind=kind, result=result)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prediction-log", daemon=True)
        self._thread.start()

    def wanted(self, request_id: str) -> bool:
        return sampled(request_id, self.settings.rate)

    def offer(self, record: parquet.Record) -> None:
        """Queue `record` for writing, or drop it (counted) when the queue is full."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.records.labels(kind=_kind(record), result="dropped").inc()

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, then stop."""
        self._stopping.set()
        self._queue.put(_STOP, timeout=timeout)
        self._thread.join(timeout)

    def _run(self) -> None:
        stopping = False
        while not stopping:
            batch, stopping = self._take()
            if batch:
                self._write(batch)

    def _take(self) -> tuple[list[parquet.Record], bool]:
        """What has queued, at most a batch: after `flush_seconds` asleep, or at once when a
        full batch waits or the logger stops."""
        if self._queue.qsize() < self.settings.batch_rows:
            self._stopping.wait(self.settings.flush_seconds)
        batch: list[parquet.Record] = []
        while len(batch) < self.settings.batch_rows:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False
            if item is _STOP:
                return batch, True
            assert isinstance(item, parquet.PredictionRecord | parquet.OutcomeRecord)
            batch.append(item)
        return batch, False

    def _write(self, batch: list[parquet.Record]) -> None:
        result = "written"
        try:
            parquet.write(str(self.settings.data_root), batch)
        except Exception as error:  # a full disk or a bad record loses this batch, not the log
            log.warning("prediction log: %d records not written: %s", len(batch), error)
            result = "failed"
        for kind, count in collections.Counter(_kind(record) for record in batch).items():
            self.records.labels(kind=kind, result=result).inc(count)


def _kind(record: parquet.Record) -> str:
    return "prediction" if isinstance(record, parquet.PredictionRecord) else "outcome"


def model_of(namespace: str, predictor: Predictor, deployment: str) -> tuple[str, str]:
    """The (model, version) a predictor serves as the log names them: the registry version its
    annotations name, the model without the `<namespace>.` every registered name carries
    (ADR 0012); a predictor paved did not annotate goes under its deployment's name."""
    if predictor.registered is None:
        return deployment, ""
    model, version = predictor.registered
    return model.removeprefix(f"{namespace}."), version


def entities(tags: Mapping[str, Any], rows: int) -> list[str]:
    """Each row's entity from the request's `meta.tags.entity`: one object of join keys for a
    one-row request, or a list of them, one per row; "" where none was given."""
    given = tags.get("entity")
    if given is None:
        return [""] * rows
    listed = given if isinstance(given, list) else [given]
    if len(listed) != rows or not all(isinstance(keys, dict) for keys in listed):
        raise ValueError(
            f"meta.tags.entity: give one object of join keys per row ({rows}), as a list"
            " when there are several"
        )
    return [entity_key(keys) for keys in listed]


@dataclass(frozen=True)
class Served:
    """One answered request, as the log needs it."""

    route: Route
    predictor: Predictor
    request_id: str
    entities: Sequence[str]
    # Each row's features by name, from the request as parsed: building them from the model's
    # frame (`DataFrame.to_dict`) cost more than the rest of the log's request path together.
    features: Sequence[Mapping[str, Any]]
    scores: Scores


def prediction_records(served: Served, now: dt.datetime) -> list[parquet.Record]:
    """One record per row; a request of several rows gets ids `<request id>:<row>`."""
    namespace = served.route.namespace
    model, version = model_of(namespace, served.predictor, served.route.deployment)
    many = len(served.features) > 1
    headline = served.scores.headline().tolist()
    vectors = served.scores.rows() if served.scores.multiclass else [()] * len(headline)
    return [
        parquet.PredictionRecord(
            namespace=namespace,
            model=model,
            predictor=served.predictor.name,
            prediction=Prediction(
                request_id=f"{served.request_id}:{n}" if many else served.request_id,
                entity=entity,
                served_at=now,
                model_version=version,
                score=score,
                class_scores=tuple(vector),
            ),
            features=row,
        )
        for n, (row, entity, score, vector) in enumerate(
            zip(served.features, served.entities, headline, vectors, strict=True)
        )
    ]


def feedback_records(
    route: Route,
    predictor: Predictor,
    request_id: str,
    *,
    reward: float,
    truths: Sequence[float],
    now: dt.datetime,
) -> list[parquet.OutcomeRecord]:
    """Seldon feedback as outcomes of the request its response names: its reward, and its
    truth as each row's label (rows keyed as their predictions are: `<request id>:<row>` when
    there are several)."""
    model, _ = model_of(route.namespace, predictor, route.deployment)
    outcomes = [Outcome(OutcomeKind.REWARD, request_id, reward, now, now)]
    many = len(truths) > 1
    outcomes += [
        Outcome(OutcomeKind.FEEDBACK, f"{request_id}:{n}" if many else request_id, truth, now, now)
        for n, truth in enumerate(truths)
    ]
    return [parquet.OutcomeRecord(route.namespace, model, outcome) for outcome in outcomes]


def truths(truth: Mapping[str, Any] | None) -> list[float]:
    """The labels of a Seldon feedback's `truth` message: one number per row of its
    `data.ndarray` (a row may be a one-element list) or `data.tensor.values`. ValueError names
    what is not a label."""
    if truth is None:
        return []
    data = truth.get("data")
    if not isinstance(data, dict):
        raise ValueError("truth: give data.ndarray or data.tensor, one label per row")
    tensor = data.get("tensor")
    rows = tensor.get("values") if isinstance(tensor, dict) else data.get("ndarray")
    if not isinstance(rows, list) or not rows:
        raise ValueError("truth: give data.ndarray or data.tensor, one label per row")
    labels = [row[0] if isinstance(row, list) and len(row) == 1 else row for row in rows]
    if not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in labels
    ):
        raise ValueError(
            "truth: each row's label is one finite number (a class index, 0/1, a value)"
        )
    return [float(v) for v in labels]
