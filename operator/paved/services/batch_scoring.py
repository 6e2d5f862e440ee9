"""One batch prediction run: entities in batches, their features point-in-time as of the run's
as-of (the offline engine: DuckDB or Spark), scored, written online as the prediction view and
into the run's Parquet partition.

Idempotent per (model version, as-of): the online store keeps only newer values (the as-of is
the event time), and the partition is committed whole at the end, replacing an earlier attempt.
A crash mid-run leaves the online values already written (the same ones a redo writes) and no
partition; the caller records the run only after this returns.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from paved.core.batch_predictions import (
    AS_OF,
    MODEL_VERSION,
    SCORE,
    SERVED_AT,
    LogPlan,
    ScoringPlan,
)
from paved.core.prediction_log import (
    Prediction,
    batch_request_id,
    entity_key,
    logged_features,
)
from paved.core.prediction_shadow import Comparison, compare
from paved.errors import SourceDataError, StoreUnavailableError
from paved.ports.models import Scorer
from paved.ports.monitoring import MonitorReadError, PredictionLogWriter
from paved.ports.offline import FeatureRequest, JoinOptions, OfflineEngine
from paved.ports.online import OnlineStore
from paved.ports.predictions import PredictionFiles

_TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class ScoringReport:
    rows: int  # entities scored
    written: int  # online values that were newer than what the store held
    seconds: float


def score_run(
    plan: ScoringPlan,
    *,
    model: Scorer,
    offline: OfflineEngine,
    online: OnlineStore,
    files: PredictionFiles,
    on_batch: Callable[[int], None] | None = None,
    log: PredictionLogWriter | None = None,
) -> ScoringReport:
    """Score every entity of `plan` as of its as-of; write online and to the run's partition,
    and the plan's sample of them to the prediction log."""
    started = time.monotonic()
    requests, reads = _requests(plan, model)
    rows = written = 0
    root = plan.entities.data_root
    with files.run(plan.partition, root, dict(plan.lineage)) as partition:
        batches = files.entities(plan.entities, plan.entity_source, plan.as_of, plan.batch_rows)
        for index, keys in enumerate(batches):
            predictions, features = _predictions(plan, keys, model, offline, (requests, reads))
            if log is not None and plan.log is not None:
                _log_sample(plan, plan.log, predictions, features, log=log, batch=index)
            written += online.write(plan.output, predictions).written
            # Readers of the served view get these values from now on (a shadow's get another
            # served time when the run is accepted: `publish_run`).
            partition.write(_served_from(predictions, dt.datetime.now(dt.UTC)))
            rows += predictions.num_rows
            if on_batch is not None:
                on_batch(predictions.num_rows)
    return ScoringReport(rows=rows, written=written, seconds=time.monotonic() - started)


def _requests(plan: ScoringPlan, model: Scorer) -> tuple[list[FeatureRequest], list[str]]:
    """The features the model reads, from the views its ModelVersion trained on; a model that
    reads a feature none of them has is refused before anything is read."""
    wanted = model.features or tuple(f for i in plan.model.inputs for f in i.features)
    offered = {f for i in plan.model.inputs for f in i.features}
    missing = [f for f in wanted if f not in offered]
    if missing:
        raise SourceDataError(
            f"{plan.model.label} reads {', '.join(missing)}, which its ModelVersion "
            f"{plan.model.model_version}'s features do not include"
        )
    requests = [
        FeatureRequest(i.view, tuple(f for f in i.features if f in wanted))
        for i in plan.model.inputs
    ]
    return [r for r in requests if r.features], list(wanted)


def _predictions(
    plan: ScoringPlan,
    keys: pa.Table,
    model: Scorer,
    offline: OfflineEngine,
    reading: tuple[list[FeatureRequest], list[str]],
) -> tuple[pa.Table, pa.Table]:
    """One batch: the keys, the as-of, the score, and the model version that produced it; and
    the features the model read."""
    as_of = pa.array([plan.as_of] * keys.num_rows, _TIMESTAMP)
    entity_rows = keys.append_column(AS_OF, as_of)
    requests, reads = reading
    features = offline.historical_features(entity_rows, requests, JoinOptions(AS_OF))
    read = features.select(reads)
    scores = model.score(read)
    label = pa.array([plan.model.label] * keys.num_rows, pa.string())
    return entity_rows.append_column(SCORE, scores).append_column(MODEL_VERSION, label), read


def _log_sample(
    plan: ScoringPlan,
    logging: LogPlan,
    predictions: pa.Table,
    features: pa.Table,
    *,
    log: PredictionLogWriter,
    batch: int,
) -> None:
    """The batch's sampled predictions into the log, as served at the run's as-of (their
    features are as of then), in one file per batch whose name a redone run writes again."""
    version = plan.model.version
    run = batch_request_id(logging.batch_prediction, model_version=version, as_of=plan.as_of)
    join_keys = predictions.select(list(plan.entities.join_keys))
    taken = pa.array(_sampled_rows(join_keys, run, logging.rate), pa.int64())
    if len(taken) == 0:
        return
    keys = join_keys.take(taken).to_pylist()
    rows = features.take(taken).to_pylist()
    scores = predictions.column(SCORE).take(taken).to_pylist()
    logged = [
        Prediction(
            f"{run}/{entity_key(key)}",
            entity_key(key),
            plan.as_of,
            version,
            float(score),
            logged_features=logged_features(row),
        )
        for key, row, score in zip(keys, rows, scores, strict=True)
    ]
    key = f"batch-{logging.batch_prediction}-{version}-{plan.as_of:%Y%m%dT%H%M%S%f}-{batch:06d}"
    predictor = f"batch/{logging.batch_prediction}"
    try:
        log.write(logging.namespace, logging.model, predictor, logged, key=key)
    except MonitorReadError as error:
        # A run whose sample cannot be logged fails and is tried again, saying why on its
        # resource: a monitor left blind with nothing said is worse than a late run.
        raise StoreUnavailableError(f"the prediction log: {error}") from error


def _sampled_rows(keys: pa.Table, run: str, rate: float) -> np.ndarray:
    """The rows of a batch the log takes: their join keys hashed (vectorized: a run scores
    millions, and an id and a SHA-256 a row in Python cost a quarter of the run), salted by the
    run's id so each run logs a fresh sample; the same run picks the same rows again."""
    if rate >= 1.0:
        return np.arange(keys.num_rows)
    hashed = pd.util.hash_pandas_object(keys.to_pandas(), index=False).to_numpy(np.uint64)
    salt = np.uint64(int.from_bytes(hashlib.sha256(run.encode()).digest()[:8], "big"))
    mixed = _splitmix64(hashed ^ salt)
    return np.flatnonzero(mixed < np.uint64(int(rate * 2**64)))


def _splitmix64(values: np.ndarray) -> np.ndarray:
    """A 64-bit mixer: every bit of a salted key moves the outcome (uint64 wraps by design)."""
    with np.errstate(over="ignore"):
        z = values + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def publish_run(
    files: PredictionFiles,
    *,
    source: str,
    target: str,
    root: str,
    lineage: Mapping[str, str],
    served_at: dt.datetime,
) -> int:
    """Copy a run's predictions into the served history at `target`, served from `served_at`;
    the number of rows. Whole or not at all, and done again the same way."""
    predictions = files.read(source, root)
    with files.run(target, root, lineage) as partition:
        partition.write(_served_from(predictions, served_at))
    rows: int = predictions.num_rows
    return rows


def _served_from(predictions: pa.Table, at: dt.datetime) -> pa.Table:
    served = pa.array([at] * predictions.num_rows, _TIMESTAMP)
    if SERVED_AT in predictions.column_names:
        index = predictions.column_names.index(SERVED_AT)
        return predictions.set_column(index, SERVED_AT, served)
    return predictions.append_column(SERVED_AT, served)


def compare_runs(
    files: PredictionFiles,
    *,
    served: str,
    shadow: str,
    keys: tuple[str, ...],
    root: str,
    threshold: float,
) -> Comparison:
    """The served run's and a shadow run's scores, entity by entity (those both scored)."""
    before = files.read(served, root).select([*keys, SCORE]).rename_columns([*keys, "before"])
    after = files.read(shadow, root).select([*keys, SCORE]).rename_columns([*keys, "after"])
    both = before.join(after, list(keys), join_type="inner")
    return compare(
        both["before"].to_numpy(zero_copy_only=False),
        both["after"].to_numpy(zero_copy_only=False),
        threshold=threshold,
    )
