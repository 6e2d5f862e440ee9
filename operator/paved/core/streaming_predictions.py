"""StreamingPrediction decisions: the plan its workers run, and its Ready and Fresh conditions.

Pure: the controller hands in the FeatureViews and the model version it found and the stream's
backlog it read, with `now`. Every name paved gives a Redis key here carries the namespace.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from pydantic import BaseModel, ConfigDict

from paved.api.feature_view import DataType, FeatureViewSpec, StalePolicy
from paved.api.meta import parse_duration
from paved.api.streaming_prediction import Backlog, ScoringMode, StreamingPredictionSpec
from paved.core.conditions import Observation
from paved.core.feature_views import FeatureDefinition, ViewDefinition
from paved.core.reasons import StreamingPredictionReason as Reason

READY: Final = "Ready"
FRESH: Final = "Fresh"
EVENT_FIELD: Final = "event"  # an input entry's JSON object
RESULT_FIELD: Final = "result"  # an output entry's JSON object
PREDICTION_VERSION: Final = "stream"  # never a FeatureView's (12 hex digits)
EVENT_TIME: Final = "event_time"


def output_stream(namespace: str, name: str) -> str:
    return f"paved:predictions:{namespace}:{name}"


def dead_letter_stream(namespace: str, name: str) -> str:
    """Where events that cannot be scored go, with their reason: kept, not retried."""
    return f"{output_stream(namespace, name)}:dead-letter"


def marker_prefix(namespace: str, name: str) -> str:
    """`<prefix><event id>` holds an event's result while the dedup window lasts."""
    return f"paved:predicted:{namespace}:{name}:"


def prediction_view(namespace: str, name: str, join_keys: tuple[str, ...]) -> ViewDefinition:
    """The online store's view of a StreamingPrediction's results: each entity's latest
    prediction and the model version that made it, read like features."""
    return ViewDefinition(
        namespace=namespace,
        name=name,
        version=PREDICTION_VERSION,
        join_keys=join_keys,
        source="",
        data_root="",
        timestamp_field=EVENT_TIME,
        created_timestamp_field=None,
        ttl=None,
        features=(
            FeatureDefinition("prediction", DataType.FLOAT64),
            FeatureDefinition("model_version", DataType.STRING),
        ),
        stale_policy=StalePolicy.MARK,
    )


class WorkerPlan(BaseModel):
    """What every worker of one StreamingPrediction runs: written by the operator, read by the
    worker at start. A worker on another plan's digest is replaced."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespace: str
    name: str
    stream: str
    group: str
    join_keys: tuple[str, ...]
    features: tuple[str, ...]
    views: dict[str, FeatureViewSpec]
    model: str
    model_version: str
    model_uri: str
    scoring: ScoringMode
    endpoint: str | None
    output_stream: str
    output_max_length: int
    online: bool
    dedup_ms: int
    batch_size: int
    claim_idle_ms: int
    replicas: int
    log_rate: float = 0.0  # the share of scored events the prediction log takes (ADR 0044)

    def digest(self) -> str:
        """The plan but its replica count: a scale leaves running workers alone."""
        body = self.model_dump(mode="json", exclude={"replicas"})
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class ChosenModel:
    """The registry version a StreamingPrediction scores with, and where its files are."""

    model: str  # the registered model's name (`<namespace>.<model>`)
    version: str
    uri: str


@dataclass(frozen=True)
class Subject:
    namespace: str
    name: str
    spec: StreamingPredictionSpec


@dataclass(frozen=True)
class Run:
    plan: WorkerPlan


@dataclass(frozen=True)
class Wait:
    """Nothing can run yet (or run anew): the Ready condition says why."""

    observation: Observation


# A referenced FeatureView: its spec, a problem reading it, or None (not found).
FoundView = FeatureViewSpec | str | None


def decide(
    subject: Subject, views: Mapping[str, FoundView], model: ChosenModel | Wait
) -> Run | Wait:
    """The plan to run, once every FeatureView, feature and the model are there."""
    if isinstance(model, Wait):
        return model
    problem = _view_problem(subject.spec, views)
    if problem is not None:
        return Wait(problem)
    specs = {name: spec for name, spec in views.items() if isinstance(spec, FeatureViewSpec)}
    return Run(_plan(subject, specs, model))


def _view_problem(
    spec: StreamingPredictionSpec, views: Mapping[str, FoundView]
) -> Observation | None:
    for ref in spec.features:
        view, _, feature = ref.partition(":")
        found = views.get(view)
        if not isinstance(found, FeatureViewSpec):
            why = "not found" if found is None else f"unreadable ({found})"
            return _not_ready(Reason.FEATURE_VIEW_NOT_FOUND, f"FeatureView {view} is {why}.")
        if feature not in {f.name for f in found.features}:
            return _not_ready(Reason.FEATURE_NOT_FOUND, f"FeatureView {view} has no {feature}.")
        if not set(found.entity.join_keys) <= set(spec.entity.join_keys):
            keys = ", ".join(found.entity.join_keys)
            return _not_ready(
                Reason.JOIN_KEYS_DIFFER,
                f"FeatureView {view} joins on {keys}; spec.entity.joinKeys must name them.",
            )
    return None


def _not_ready(reason: Reason, message: str) -> Observation:
    return Observation(READY, "False", reason, message)


def model_missing(reason: Reason, message: str) -> Wait:
    return Wait(_not_ready(reason, message))


def _plan(subject: Subject, views: dict[str, FeatureViewSpec], model: ChosenModel) -> WorkerPlan:
    spec, namespace, name = subject.spec, subject.namespace, subject.name
    return WorkerPlan(
        namespace=namespace,
        name=name,
        stream=spec.input.stream,
        group=spec.input.group,
        join_keys=tuple(spec.entity.join_keys),
        features=tuple(spec.features),
        views=views,
        model=model.model,
        model_version=model.version,
        model_uri=model.uri,
        scoring=spec.scoring.mode,
        endpoint=spec.scoring.endpoint,
        output_stream=spec.output.stream or output_stream(namespace, name),
        output_max_length=spec.output.max_length,
        online=spec.output.online,
        dedup_ms=_ms(spec.output.dedup_window),
        batch_size=spec.workers.batch_size,
        claim_idle_ms=_ms(spec.workers.claim_idle),
        replicas=spec.workers.replicas,
        log_rate=spec.prediction_log.rate,
    )


def _ms(duration: str) -> int:
    return max(1, int(parse_duration(duration).total_seconds() * 1000))


def ready_condition(plan: WorkerPlan, running: int) -> Observation:
    wanted = plan.replicas
    if wanted == 0:
        return Observation(READY, "True", Reason.SCALED_TO_ZERO, "Scaled to zero: no worker runs.")
    scoring = f"{plan.model} v{plan.model_version} ({plan.scoring.value})"
    if running < wanted:
        message = f"{running} of {wanted} workers running; scoring with {scoring}."
        return Observation(READY, "False", Reason.WORKERS_STARTING, message)
    message = (
        f"{running} workers consume {plan.stream} as group {plan.group}; scoring with {scoring}."
    )
    return Observation(READY, "True", Reason.RUNNING, message)


def fresh_condition(backlog: Backlog | None, slo: dt.timedelta) -> Observation:
    """Fresh while the oldest event not yet scored is younger than the SLO."""
    if backlog is None:
        return Observation(FRESH, "Unknown", Reason.STREAM_UNAVAILABLE, "The stream was not read.")
    behind = f"{backlog.lag} unread" if backlog.lag is not None else "unread unknown"
    counts = f"{behind}, {backlog.pending} pending"
    if backlog.oldest_seconds is None:
        return Observation(FRESH, "True", Reason.CAUGHT_UP, f"Caught up ({counts}).")
    age = f"the oldest event not yet scored is {backlog.oldest_seconds:.1f}s old"
    if backlog.oldest_seconds <= slo.total_seconds():
        message = f"Within the {slo.total_seconds():g}s SLO: {age} ({counts})."
        return Observation(FRESH, "True", Reason.WITHIN_SLO, message)
    message = f"Behind the {slo.total_seconds():g}s SLO: {age} ({counts})."
    return Observation(FRESH, "False", Reason.SLO_BREACHED, message)


def freshness_summary(backlog: Backlog | None) -> str:
    """For `kubectl get`: 'caught up', or how far behind the oldest unscored event is."""
    if backlog is None:
        return "unknown"
    if backlog.oldest_seconds is None:
        return "caught up"
    return f"{backlog.oldest_seconds:.0f}s behind"


def events_per_second(previous: Backlog | None, current: Backlog | None) -> float | None:
    """The group's read rate between two looks (Redis counts entries read, all time)."""
    if previous is None or current is None or previous.at is None or current.at is None:
        return None
    if previous.entries_read is None or current.entries_read is None:
        return None
    seconds = (current.at - previous.at).total_seconds()
    if seconds <= 0 or current.entries_read < previous.entries_read:
        return None
    return round((current.entries_read - previous.entries_read) / seconds, 2)


def stream_time(entry_id: str) -> dt.datetime:
    """When Redis appended an entry: the milliseconds its id starts with."""
    milliseconds = int(entry_id.split("-", 1)[0])
    return dt.datetime.fromtimestamp(milliseconds / 1000, dt.UTC)
