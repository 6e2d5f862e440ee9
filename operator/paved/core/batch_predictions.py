"""Batch predictions as the data plane sees them: the prediction view, a run's identity, its
as-of time and where its Parquet goes.

Pure: no I/O, no clock. A run is one (model version, as-of): the as-of comes from the trigger
(the schedule's latest time, or the entities' FeatureView's watermark) or a person's request, so
deciding again after a crash names the same run, and redoing it writes the same values. The
predictions of each model version are their own prediction view (its own online keys), which
reads serve exactly like a FeatureView's features: ttl, freshness SLO and stale policy included.

Offline, the view is the history of what was served (ADR 0042): a run's partition is in it from
when its predictions were served (`served_at`, the view's created time), so a model trained on
the predictions (a hybrid) reads, as of each label's time, what readers were served then. A
shadow run's partition is kept apart until it is accepted; a rollback puts the restored run back
in the history as served again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Final

from paved.api.batch_prediction import (
    BatchPredictionSpec,
    BatchPredictionStatus,
    PredictionRun,
    Trigger,
)
from paved.api.cron import parse_cron
from paved.api.feature_view import (
    DataType,
    Entity,
    Feature,
    FeatureViewSpec,
    Online,
    Source,
)
from paved.core.data_paths import resolve
from paved.core.feature_views import VERSION_LENGTH, ViewDefinition, view_definition

AS_OF: Final = "as_of"  # the prediction view's event time: the run's as-of
SCORE: Final = "score"
MODEL_VERSION: Final = "model_version"  # "<registered model>/<registry version>", on every value
SERVED_AT: Final = "served_at"  # when readers were first served the row: the view's created time
PREDICTIONS_DIR: Final = "predictions"
SHADOW_DIR: Final = "shadow"  # a shadow run's partitions: outside the history until accepted
PREDICTION_FEATURES: Final = (SCORE, MODEL_VERSION)
# The annotation `paved predictions run` sets: run now, as of this time (RFC 3339).
RUN_REQUESTED: Final = "paved.dev/run-requested"


@dataclass(frozen=True)
class ModelInput:
    """Some features of one FeatureView that the model reads."""

    view: ViewDefinition
    features: tuple[str, ...]


@dataclass(frozen=True)
class ScoringModel:
    """The model a run scores with, resolved: its registry version and what it reads."""

    registered: str  # <namespace>.<model>
    version: str
    uri: str
    model_version: str  # the ModelVersion object that trained it
    inputs: tuple[ModelInput, ...]
    # Why this version may not replace served predictions (the promotion rule: phase, policies,
    # sign-off); None: it may.
    refusal: str | None = None

    @property
    def label(self) -> str:
        return f"{self.registered}/{self.version}"


@dataclass(frozen=True)
class LogPlan:
    """Which of a run's predictions go to the prediction log (ADR 0044), and under what."""

    batch_prediction: str
    namespace: str
    model: str  # the ModelVersions' spec.model: the log's partition, a monitor's `model`
    rate: float  # the share of the run's entities logged, by their ids


@dataclass(frozen=True)
class ScoringPlan:
    """Everything one run needs: what to score, with what, as of when, and where it goes."""

    as_of: dt.datetime
    model: ScoringModel
    entities: ViewDefinition  # whose join keys key the predictions
    entity_source: str | None  # Parquet of the entities to score; None: all of the view's
    output: ViewDefinition  # the prediction view
    partition: str  # the run's Parquet partition (a directory)
    batch_rows: int
    lineage: tuple[tuple[str, str], ...]
    log: LogPlan | None = None  # None: nothing logged (a shadow run serves nothing)


def view_version(name: str, entities: ViewDefinition, model: ScoringModel) -> str:
    """Content hash of what defines the predictions: their keys and the model version."""
    defining = {
        "name": name,
        "joinKeys": list(entities.join_keys),
        "model": model.registered,
        "version": model.version,
    }
    canonical = json.dumps(defining, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:VERSION_LENGTH]


def prediction_view(
    name: str,
    spec: BatchPredictionSpec,
    *,
    entities: ViewDefinition,
    version: str,
    data_root: str,
) -> ViewDefinition:
    """The predictions of one model version (`version`, from `view_version`) as a view: keyed
    like the entities, the as-of as event time, `score` and `model_version` as features; its
    offline source is the history of served runs."""
    as_spec = prediction_view_spec(name, spec, join_keys=entities.join_keys)
    view = view_definition(name, as_spec, data_root, namespace=entities.namespace)
    return replace(view, version=version)


def prediction_view_spec(
    name: str, spec: BatchPredictionSpec, *, join_keys: tuple[str, ...] | list[str]
) -> FeatureViewSpec:
    """A BatchPrediction's predictions as a FeatureView would declare them: what a model
    trained on them (a hybrid) reads offline, point-in-time, as it reads any view."""
    output = spec.output
    history = f"{PREDICTIONS_DIR}/{name}/run=*/*.parquet"
    return FeatureViewSpec(
        # The entity's name is not part of a ViewDefinition (nor of any key): only its join keys.
        entity=Entity(name="entity", join_keys=list(join_keys)),
        source=Source(path=history, timestamp_field=AS_OF, created_timestamp_field=SERVED_AT),
        ttl=output.ttl,
        features=[
            Feature(name=SCORE, dtype=DataType.FLOAT64, freshness=output.freshness),
            Feature(name=MODEL_VERSION, dtype=DataType.STRING, freshness=output.freshness),
        ],
        online=Online(stale_policy=output.stale_policy),
        point_in_time=output.point_in_time,
    )


def partition(
    name: str, as_of: dt.datetime, model: ScoringModel, *, root: str, shadow: bool = False
) -> str:
    """The run's directory: `<ns root>/predictions/<name>/run=<as-of>-v<version>`, in the
    served history; a shadow run's under `…/<name>/shadow/`, outside it."""
    return _run_directory(name, _run_name(as_of, model.version), root=root, shadow=shadow)


def published_partition(name: str, run: PredictionRun, *, root: str, restored: str = "") -> str:
    """Where a run's predictions enter the served history when they are served after they were
    scored: an accepted shadow under its run's own name; a run a rollback restores (`restored`:
    the rollback request) under a name of that request, beside its first time in the history."""
    stem = _run_name(run.as_of, run.model_version)
    if restored:
        stem += "-restored-" + hashlib.sha256(restored.encode()).hexdigest()[:8]
    return _run_directory(name, stem, root=root, shadow=False)


def _run_name(as_of: dt.datetime, version: str) -> str:
    return f"run={as_of.astimezone(dt.UTC).strftime('%Y%m%dT%H%M%SZ')}-v{version}"


def _run_directory(name: str, run: str, *, root: str, shadow: bool) -> str:
    folder = f"{PREDICTIONS_DIR}/{name}/{SHADOW_DIR}" if shadow else f"{PREDICTIONS_DIR}/{name}"
    return str(resolve("partition", f"{folder}/{run}", PurePosixPath(root)))


def trigger_as_of(
    trigger: Trigger, *, watermark: dt.datetime | None, now: dt.datetime
) -> dt.datetime | None:
    """What the trigger asks to be scored as of now: the schedule's latest time, or the
    watermark; None: nothing yet."""
    if trigger.schedule is not None:
        return parse_cron(trigger.schedule).latest(now)
    return watermark


def next_run_at(trigger: Trigger, now: dt.datetime) -> dt.datetime | None:
    return parse_cron(trigger.schedule).next_after(now) if trigger.schedule else None


def requested_as_of(annotations: Mapping[str, str], now: dt.datetime) -> dt.datetime | None:
    """A person's request to run now, as the annotation's time; one from the future counts
    from now (the features of the future are not known)."""
    text = annotations.get(RUN_REQUESTED)
    if not text:
        return None
    try:
        at = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if at.tzinfo is None:
        return None
    return min(at.astimezone(dt.UTC), now)


def run_lineage(name: str, as_of: dt.datetime, model: ScoringModel) -> tuple[tuple[str, str], ...]:
    """What a run's Parquet records of where its values came from."""
    views = {i.view.name: i.view.version for i in model.inputs}
    return (
        ("batchPrediction", name),
        ("asOf", as_of.isoformat()),
        ("model", model.registered),
        ("modelVersion", model.version),
        ("modelUri", model.uri),
        ("trainedBy", model.model_version),
        ("featureViews", json.dumps(views, sort_keys=True)),
    )


def served_view(
    name: str,
    spec: BatchPredictionSpec,
    status: BatchPredictionStatus,
    *,
    entities: ViewDefinition,
    data_root: str,
) -> ViewDefinition | None:
    """The prediction view reads are served from (the served run's), or None before any run."""
    if status.served is None:
        return None
    version = status.served.view_version
    return prediction_view(name, spec, entities=entities, version=version, data_root=data_root)
