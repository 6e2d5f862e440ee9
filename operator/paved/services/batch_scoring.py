"""One batch prediction run: entities in batches, their features point-in-time as of the run's
as-of (the offline engine: DuckDB or Spark), scored, written online as the prediction view and
into the run's Parquet partition.

Idempotent per (model version, as-of): the online store keeps only newer values (the as-of is
the event time), and the partition is committed whole at the end, replacing an earlier attempt.
A crash mid-run leaves the online values already written (the same ones a redo writes) and no
partition; the caller records the run only after this returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa

from paved.core.batch_predictions import AS_OF, MODEL_VERSION, SCORE, ScoringPlan
from paved.core.prediction_shadow import Comparison, compare
from paved.errors import SourceDataError
from paved.ports.models import Scorer
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
) -> ScoringReport:
    """Score every entity of `plan` as of its as-of; write online and to the run's partition."""
    started = time.monotonic()
    requests, reads = _requests(plan, model)
    rows = written = 0
    root = plan.entities.data_root
    with files.run(plan.partition, root, dict(plan.lineage)) as partition:
        batches = files.entities(plan.entities, plan.entity_source, plan.as_of, plan.batch_rows)
        for keys in batches:
            predictions = _predictions(plan, keys, model, offline, (requests, reads))
            written += online.write(plan.output, predictions).written
            partition.write(predictions)
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
) -> pa.Table:
    """One batch: the keys, the as-of, the score, and the model version that produced it."""
    as_of = pa.array([plan.as_of] * keys.num_rows, _TIMESTAMP)
    entity_rows = keys.append_column(AS_OF, as_of)
    requests, reads = reading
    features = offline.historical_features(entity_rows, requests, JoinOptions(AS_OF))
    scores = model.score(features.select(reads))
    label = pa.array([plan.model.label] * keys.num_rows, pa.string())
    return entity_rows.append_column(SCORE, scores).append_column(MODEL_VERSION, label)


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
