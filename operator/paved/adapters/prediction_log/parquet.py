"""The prediction log in Parquet, in the offline store's layout: under each namespace's data root,
`predictions/` and `outcomes/`, partitioned `model=<m>/day=<YYYY-MM-DD>` (`core/prediction_log`).

A write is one new file per partition (a temporary name, then a rename), so a reader sees whole
files only and writers never meet. A prediction's features and entity are canonical JSON: the
same columns whatever model or version wrote them, so one partition holds every version's.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from paved.core.data_paths import namespace_root
from paved.core.prediction_log import (
    Joined,
    LogKind,
    Outcome,
    OutcomeKind,
    Prediction,
    join,
    labels_as_outcomes,
    partition,
    predicted_class,
)
from paved.ports.monitoring import LoggedWindow, MonitorReadError

_TIME: Final = pa.timestamp("us", tz="UTC")
PREDICTIONS: Final = pa.schema(
    [
        ("request_id", pa.string()),
        ("served_at", _TIME),
        ("model", pa.string()),
        ("model_version", pa.string()),
        ("predictor", pa.string()),
        ("entity", pa.string()),
        ("features", pa.string()),
        ("score", pa.float64()),
        # A multiclass model's class probabilities (null for one score a row); files written
        # before it read it as null.
        ("class_scores", pa.list_(pa.float64())),
    ]
)
OUTCOMES: Final = pa.schema(
    [
        ("kind", pa.string()),
        ("key", pa.string()),
        ("value", pa.float64()),
        ("event_time", _TIME),
        ("received_at", _TIME),
        ("model", pa.string()),
    ]
)


@dataclass(frozen=True)
class PredictionRecord:
    """A served prediction with where it belongs and what the model saw."""

    namespace: str
    model: str
    predictor: str
    prediction: Prediction
    features: Mapping[str, object] | None  # None: the prediction's `logged_features` as they are

    def row(self) -> dict[str, object]:
        p = self.prediction
        return {
            "request_id": p.request_id,
            "served_at": p.served_at,
            "model": self.model,
            "model_version": p.model_version,
            "predictor": self.predictor,
            "entity": p.entity,
            "features": (
                p.logged_features
                if self.features is None
                else json.dumps(self.features, separators=(",", ":"), default=str)
            ),
            "score": p.score,
            "class_scores": list(p.class_scores) or None,
        }


@dataclass(frozen=True)
class OutcomeRecord:
    namespace: str
    model: str
    outcome: Outcome

    def row(self) -> dict[str, object]:
        o = self.outcome
        return {
            "kind": o.kind.value,
            "key": o.key,
            "value": o.value,
            "event_time": o.event_time,
            "received_at": o.received_at,
            "model": self.model,
        }


Record = PredictionRecord | OutcomeRecord


def write(data_root: str, records: Iterable[Record], *, key: str | None = None) -> list[Path]:
    """Each partition's records as one new file (with `key`, the file named by it: written
    again, it is replaced); the files written."""
    groups: dict[tuple[str, Path], list[dict[str, object]]] = {}
    for record in records:
        folder = Path(namespace_root(data_root, record.namespace)) / _partition_of(record)
        groups.setdefault((record.namespace, folder), []).append(record.row())
    return [_write_file(folder, rows, key) for (_, folder), rows in groups.items()]


def _partition_of(record: Record) -> Path:
    if isinstance(record, PredictionRecord):
        day = record.prediction.served_at.astimezone(dt.UTC).date()
        return Path(partition(LogKind.PREDICTIONS, record.model, day))
    day = record.outcome.received_at.astimezone(dt.UTC).date()
    return Path(partition(LogKind.OUTCOMES, record.model, day))


def _write_file(folder: Path, rows: Sequence[dict[str, object]], key: str | None = None) -> Path:
    schema = PREDICTIONS if folder.parts[-3] == LogKind.PREDICTIONS.value else OUTCOMES
    table = pa.Table.from_pylist(list(rows), schema=schema)
    folder.mkdir(parents=True, exist_ok=True)
    # Time first, so path order is write order; a keyed file is one name whenever written.
    name = quote(key, safe="-_.=") if key else f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    path = folder / f"part-{name}.parquet"
    temporary = folder / f".{path.name}.tmp"
    try:
        pq.write_table(table, temporary)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def read(
    data_root: str, namespace: str, kind: LogKind, model: str, days: Iterable[dt.date]
) -> pa.Table:
    """Every record of `model` in `days`, in path order (an empty table for none)."""
    root = Path(namespace_root(data_root, namespace))
    files = [
        str(file)
        for day in sorted(set(days))
        for file in sorted((root / partition(kind, model, day)).glob("part-*.parquet"))
    ]
    schema = PREDICTIONS if kind is LogKind.PREDICTIONS else OUTCOMES
    if not files:
        return schema.empty_table()
    return pa.concat_tables(pq.read_table(file, schema=schema) for file in files)


def predictions(table: pa.Table) -> list[Prediction]:
    columns = [
        "request_id",
        "entity",
        "served_at",
        "model_version",
        "score",
        "class_scores",
        "features",
    ]
    return [
        Prediction(
            r["request_id"],
            r["entity"],
            r["served_at"],
            r["model_version"],
            r["score"],
            tuple(r["class_scores"] or ()),
            r["features"] or "{}",
        )
        for r in table.select(columns).to_pylist()
    ]


def outcomes(table: pa.Table) -> list[Outcome]:
    return [
        Outcome(OutcomeKind(r["kind"]), r["key"], r["value"], r["event_time"], r["received_at"])
        for r in table.to_pylist()
    ]


def label_outcomes(
    labels: pa.Table, *, entity_columns: Sequence[str], timestamp_column: str, label: str
) -> list[Outcome]:
    """A label source's rows (a ModelVersion's `spec.labels`) as outcomes by entity and time."""
    return labels_as_outcomes(
        labels.select([*entity_columns, timestamp_column, label]).to_pylist(),
        entity_columns=entity_columns,
        timestamp_column=timestamp_column,
        label=label,
    )


def joined(
    data_root: str,
    namespace: str,
    model: str,
    *,
    days: Sequence[dt.date],
    as_of: dt.datetime,
    horizon: dt.timedelta,
    labels: Sequence[Outcome] = (),
    version: str | None = None,
    since: dt.datetime | None = None,
) -> list[Joined]:
    """The predictions of `days` (of `version` only, and served from `since` until `as_of`,
    when given), each with the outcome that judges it as known at `as_of`: the feedback logged
    up to then (any day from the first of `days`) and `labels`."""
    logged = _served(
        read(data_root, namespace, LogKind.PREDICTIONS, model, days), version, since, as_of
    )
    first = min(days, default=as_of.date())
    outcome_days = [first + dt.timedelta(n) for n in range((as_of.date() - first).days + 1)]
    feedback = read(data_root, namespace, LogKind.OUTCOMES, model, outcome_days)
    return join(predictions(logged), [*outcomes(feedback), *labels], as_of=as_of, horizon=horizon)


def _served(
    table: pa.Table, version: str | None, since: dt.datetime | None, until: dt.datetime
) -> pa.Table:
    """The rows of `version` served in [since, until), kept in Arrow: a day at 40 requests/s is
    millions of rows, of every version, and a prediction's outcome never depends on another's."""
    if version is None and since is None:
        return table
    mask = pc.less(table["served_at"], pa.scalar(until, _TIME))
    if since is not None:
        mask = pc.and_(mask, pc.greater_equal(table["served_at"], pa.scalar(since, _TIME)))
    if version is not None:
        mask = pc.and_(mask, pc.equal(table["model_version"], version))
    return table.filter(mask)


class ParquetPredictionLog:
    """`PredictionLogReader` and `PredictionLogWriter` over the log's Parquet under `data_root`
    (where the data plane writes it: the data claim on a cluster, the platform's data root
    locally)."""

    def __init__(self, data_root: str) -> None:
        self._root = data_root

    def write(
        self,
        namespace: str,
        model: str,
        predictor: str,
        predictions: Sequence[Prediction],
        *,
        key: str | None = None,
    ) -> None:
        records = [PredictionRecord(namespace, model, predictor, p, None) for p in predictions]
        try:
            write(self._root, records, key=key)
        except (OSError, pa.ArrowException) as error:
            raise MonitorReadError(f"the prediction log of {model}: {error}") from error

    def window(
        self, namespace: str, model: str, version: str, *, since: dt.datetime, until: dt.datetime
    ) -> LoggedWindow:
        days = [
            since.date() + dt.timedelta(n) for n in range((until.date() - since.date()).days + 1)
        ]
        try:
            table = read(self._root, namespace, LogKind.PREDICTIONS, model, days)
        except (OSError, pa.ArrowException) as error:
            raise MonitorReadError(f"the prediction log of {model}: {error}") from error
        columns = ["features", "score", "class_scores", "entity", "served_at"]
        kept = _served(table, version, since, until).select(columns).to_pydict()
        features = [json.loads(text) for text in kept["features"]]
        names = sorted({name for row in features for name in row})
        # A feature a request did not carry is missing (None), as the log wrote none for it.
        inputs = {name: [row.get(name) for row in features] for name in names}
        scores = [float(score) for score in kept["score"]]
        return LoggedWindow(
            scores,
            inputs,
            _predicted_classes(kept["class_scores"]),
            entities=kept["entity"],
            served_at=kept["served_at"],
        )

    def judged(
        self,
        namespace: str,
        model: str,
        version: str | None,
        *,
        since: dt.datetime,
        until: dt.datetime,
        horizon: dt.timedelta,
        labels: Sequence[Outcome] = (),
    ) -> list[Joined]:
        days = [
            since.date() + dt.timedelta(n) for n in range((until.date() - since.date()).days + 1)
        ]
        try:
            return joined(
                self._root,
                namespace,
                model,
                days=days,
                as_of=until,
                horizon=horizon,
                labels=labels,
                version=version,
                since=since,
            )
        except (OSError, pa.ArrowException) as error:
            raise MonitorReadError(f"the prediction log of {model}: {error}") from error


def _predicted_classes(vectors: Sequence[Sequence[float] | None]) -> list[str | None]:
    """Each multiclass prediction's class; none when the model answers one score a row."""
    if not any(vectors):
        return []
    return [predicted_class(vector or ()) for vector in vectors]
