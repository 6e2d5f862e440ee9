"""The BatchPrediction's steps: (subject, spec, status, what was seen, now) → the next step.

Pure. A reconcile is a short exchange, as the ModelVersion's is: the core asks the controller to
find the model that scores (`FindModel`) or to score a run (`Score`), the controller does it
through the ports and hands back what it saw, and the core decides again until the step is a
`Report`, the status to write.

A run is one (model version, as-of). It is due when the trigger (or a person's request) names an
as-of later than the served run's, or when the model version that should score is not the one
that scored it. A run is recorded as served only once every batch is written, so a crash
mid-run decides the same run again, and redoing it writes the same values (the online store
keeps only newer values, the run's Parquet partition is replaced whole).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from paved.api.batch_prediction import (
    BatchPredictionPhase,
    BatchPredictionSpec,
    BatchPredictionStatus,
    FailedRun,
    ModelChoice,
    PredictionRun,
)
from paved.core.batch_predictions import (
    ScoringModel,
    ScoringPlan,
    next_run_at,
    partition,
    prediction_view,
    requested_as_of,
    run_lineage,
    trigger_as_of,
    view_version,
)
from paved.core.conditions import ConditionStatus, Observation
from paved.core.data_paths import namespace_root, resolve
from paved.core.failures import backoff_seconds
from paved.core.feature_views import ViewDefinition
from paved.core.reasons import AcceptanceReason, BatchPredictionReason

READY: Final = "Ready"
SOURCE_FIELD: Final = "spec.entities.source.path"
# A model that cannot be found or loaded is looked for again this often: it appears when a
# person registers or promotes one, not on a schedule.
WAITING_RETRY_SECONDS: Final = 30.0


@dataclass(frozen=True)
class Subject:
    """The object the steps are for, and where its namespace's data is."""

    namespace: str
    name: str
    data_root: str  # namespace N's data is under <data_root>/N/
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Waiting:
    """Why the model, or the entities, cannot be had now."""

    reason: BatchPredictionReason | AcceptanceReason | str
    message: str


@dataclass(frozen=True)
class Scored:
    rows: int
    seconds: float


@dataclass(frozen=True)
class ScoringFailed:
    reason: BatchPredictionReason | AcceptanceReason | str
    message: str


@dataclass(frozen=True)
class Seen:
    """What the controller has read in this reconcile; None: not read yet."""

    accepted: Observation
    entities: ViewDefinition | Waiting
    watermark: dt.datetime | None = None  # the entities' FeatureView's
    model: ScoringModel | Waiting | None = None
    scored: Scored | ScoringFailed | None = None


@dataclass(frozen=True)
class FindModel:
    choice: ModelChoice


@dataclass(frozen=True)
class Score:
    plan: ScoringPlan


@dataclass(frozen=True)
class Report:
    """The status to write; with a retry, look again after that many seconds, not a tick."""

    observed: tuple[Observation, ...]
    updates: Mapping[str, Any]
    retry_after_seconds: float | None = None
    retry_reason: str = ""


Act = FindModel | Score
Step = Act | Report


def decide(
    subject: Subject,
    spec: BatchPredictionSpec,
    status: BatchPredictionStatus,
    *,
    seen: Seen,
    now: dt.datetime,
) -> Step:
    """The next step: wait for what is missing, find the model, score the due run, report."""
    updates = {"next_run_at": next_run_at(spec.trigger, now)}
    idle = BatchPredictionPhase.SCORED if status.served else BatchPredictionPhase.PENDING
    if seen.accepted.status != "True":
        return Report((seen.accepted,), updates | {"phase": BatchPredictionPhase.PENDING})
    observed: tuple[Observation, ...] = (seen.accepted,)
    if isinstance(seen.entities, Waiting):
        waiting = _condition("False", seen.entities.reason, seen.entities.message)
        return Report((*observed, waiting), updates | {"phase": idle})
    as_of = _due_as_of(subject, spec, status, seen=seen, now=now)
    if as_of is None:
        message = (
            "Nothing to score yet: the FeatureView has no watermark."
            if spec.trigger.watermark
            else "Nothing to score yet: the schedule has not come round."
        )
        waiting = _condition("Unknown", BatchPredictionReason.WAITING_FOR_TRIGGER, message)
        return Report((*observed, waiting), updates | {"phase": idle})
    if seen.model is None:
        return FindModel(spec.model)
    if isinstance(seen.model, Waiting):
        down = _condition("False", seen.model.reason, seen.model.message)
        retry = f"{seen.model.message}; next look in {WAITING_RETRY_SECONDS:g} s."
        return Report((*observed, down), updates | {"phase": idle}, WAITING_RETRY_SECONDS, retry)
    run = _Run(subject, spec, status, seen.entities, seen.model, as_of, updates)
    return _run_step(run, seen.scored, observed, now=now)


def _due_as_of(
    subject: Subject,
    spec: BatchPredictionSpec,
    status: BatchPredictionStatus,
    *,
    seen: Seen,
    now: dt.datetime,
) -> dt.datetime | None:
    """The as-of of the run that should be served: the latest of the trigger's and a person's
    request (one already served counts no more)."""
    triggered = trigger_as_of(spec.trigger, watermark=seen.watermark, now=now)
    requested = requested_as_of(subject.annotations, now)
    if requested is not None and status.served is not None and requested <= status.served.as_of:
        requested = None
    candidates = [at for at in (triggered, requested) if at is not None]
    return max(candidates) if candidates else None


@dataclass(frozen=True)
class _Run:
    subject: Subject
    spec: BatchPredictionSpec
    status: BatchPredictionStatus
    entities: ViewDefinition
    model: ScoringModel
    as_of: dt.datetime
    updates: Mapping[str, Any]

    def served_already(self) -> bool:
        served = self.status.served
        return (
            served is not None
            and served.model == self.model.registered
            and served.model_version == self.model.version
            and served.as_of >= self.as_of
        )

    def failed_recently(self, now: dt.datetime) -> FailedRun | None:
        failed = self.status.last_failure
        if failed is None or (failed.as_of, failed.model_version) != (
            self.as_of,
            self.model.version,
        ):
            return None
        wait = dt.timedelta(seconds=backoff_seconds(failed.attempts))
        return failed if now < failed.at + wait else None

    def plan(self) -> ScoringPlan:
        name, spec, data_root = self.subject.name, self.spec, self.subject.data_root
        version = view_version(name, self.entities, self.model)
        output = prediction_view(
            name, spec, entities=self.entities, version=version, data_root=data_root
        )
        root = namespace_root(data_root, self.subject.namespace)
        source = spec.entities.source
        return ScoringPlan(
            as_of=self.as_of,
            model=self.model,
            entities=self.entities,
            entity_source=str(resolve(SOURCE_FIELD, source.path, root)) if source else None,
            output=output,
            partition=partition(name, self.as_of, self.model, root=str(root)),
            batch_rows=spec.batch_rows,
            lineage=run_lineage(name, self.as_of, self.model),
        )


def _run_step(
    run: _Run,
    scored: Scored | ScoringFailed | None,
    observed: tuple[Observation, ...],
    *,
    now: dt.datetime,
) -> Step:
    updates = dict(run.updates)
    if run.served_already():
        served = run.status.served
        assert served is not None
        ready = _condition("True", BatchPredictionReason.SCORED, _served_message(served))
        updates |= {"phase": BatchPredictionPhase.SCORED, "last_failure": None}
        return Report((*observed, ready), updates)
    failed = run.failed_recently(now)
    if failed is not None and scored is None:
        down = _condition("False", failed.reason, failed.message)
        return Report((*observed, down), updates | {"phase": BatchPredictionPhase.FAILED})
    if scored is None:
        return Score(run.plan())
    if isinstance(scored, ScoringFailed):
        return _failed(run, scored, observed, now=now)
    plan = run.plan()
    served = PredictionRun(
        as_of=run.as_of,
        model=run.model.registered,
        model_version=run.model.version,
        view_version=plan.output.version,
        rows=scored.rows,
        seconds=round(scored.seconds, 3),
        finished_at=now,
        path=plan.partition,
    )
    ready = _condition("True", BatchPredictionReason.SCORED, _served_message(served))
    updates |= {"phase": BatchPredictionPhase.SCORED, "served": served, "last_failure": None}
    return Report((*observed, ready), updates)


def _failed(
    run: _Run, scored: ScoringFailed, observed: tuple[Observation, ...], *, now: dt.datetime
) -> Report:
    """The run failed: say why; the served predictions stay; try again after a backoff."""
    previous = run.status.last_failure
    same = previous is not None and (previous.as_of, previous.model_version) == (
        run.as_of,
        run.model.version,
    )
    attempts = previous.attempts + 1 if previous is not None and same else 1
    message = (
        f"Run as of {run.as_of.isoformat()} with {run.model.label} failed: {scored.message}"
        f" (attempt {attempts}; the next in {backoff_seconds(attempts):g} s)"
    )
    if run.status.served is not None:
        message += f"; still serving the run as of {run.status.served.as_of.isoformat()}"
    failure = FailedRun(
        as_of=run.as_of,
        model_version=run.model.version,
        attempts=attempts,
        at=now,
        reason=str(scored.reason),
        message=message,
    )
    down = _condition("False", scored.reason, message)
    updates = dict(run.updates) | {"phase": BatchPredictionPhase.FAILED, "last_failure": failure}
    return Report((*observed, down), updates)


def _served_message(served: PredictionRun) -> str:
    return (
        f"Serving {served.rows} predictions of {served.model} version {served.model_version} "
        f"as of {served.as_of.isoformat()} (view version {served.view_version}, scored in "
        f"{served.seconds:g} s)."
    )


def _condition(
    status: ConditionStatus, reason: BatchPredictionReason | str, message: str
) -> Observation:
    return Observation(READY, status, str(reason), message)
