"""Batch predictions as the data plane sees them: the prediction view, a run's identity, its
as-of time and where its Parquet goes.

Pure: no I/O, no clock. A run is one (model version, as-of): the as-of comes from the trigger
(the schedule's latest time, or the entities' FeatureView's watermark) or a person's request, so
deciding again after a crash names the same run, and redoing it writes the same values. The
predictions of each model version are their own prediction view (its own online keys), which
reads serve exactly like a FeatureView's features: ttl, freshness SLO and stale policy included.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import PurePosixPath
from typing import Final

from paved.api.batch_prediction import BatchPredictionSpec, BatchPredictionStatus, Trigger
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
PREDICTIONS_DIR: Final = "predictions"
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
    offline source is every run's Parquet."""
    output = spec.output
    as_spec = FeatureViewSpec(
        # The entity's name is not part of a ViewDefinition (nor of any key): only its join keys.
        entity=Entity(name="entity", join_keys=list(entities.join_keys)),
        source=Source(path=f"{PREDICTIONS_DIR}/{name}/*/*.parquet", timestamp_field=AS_OF),
        ttl=output.ttl,
        features=[
            Feature(name=SCORE, dtype=DataType.FLOAT64, freshness=output.freshness),
            Feature(name=MODEL_VERSION, dtype=DataType.STRING, freshness=output.freshness),
        ],
        online=Online(stale_policy=output.stale_policy),
    )
    view = view_definition(name, as_spec, data_root, namespace=entities.namespace)
    return replace(view, version=version)


def partition(name: str, as_of: dt.datetime, model: ScoringModel, *, root: str) -> str:
    """The run's directory: `<ns root>/predictions/<name>/run=<as-of>-v<version>`."""
    stamp = as_of.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    run = f"{PREDICTIONS_DIR}/{name}/run={stamp}-v{model.version}"
    return str(resolve("partition", run, PurePosixPath(root)))


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
