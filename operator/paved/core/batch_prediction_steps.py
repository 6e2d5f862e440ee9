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
from dataclasses import dataclass, field, replace
from typing import Any, Final

from paved.api.batch_prediction import (
    BatchPredictionPhase,
    BatchPredictionSpec,
    BatchPredictionStatus,
    FailedRun,
    PredictionRun,
    ShadowRecord,
    ShadowVerdict,
)
from paved.api.model_version import ModelChoice
from paved.core.batch_predictions import (
    LogPlan,
    ScoringModel,
    ScoringPlan,
    next_run_at,
    partition,
    prediction_view,
    published_partition,
    requested_as_of,
    run_lineage,
    trigger_as_of,
    view_version,
)
from paved.core.conditions import ConditionStatus, Observation
from paved.core.data_paths import namespace_root, resolve
from paved.core.failures import backoff_seconds
from paved.core.feature_views import ViewDefinition

# The status to write, as a ModelVersion's steps end in it.
from paved.core.model_version_steps import Report as Report
from paved.core.model_versions import model_of
from paved.core.prediction_shadow import (
    ACCEPT_REQUESTED,
    ROLLBACK_REQUESTED,
    Comparison,
    breaches,
    summary,
)
from paved.core.reasons import AcceptanceReason, BatchPredictionReason, ModelChangeReason

READY: Final = "Ready"
MODEL_CHANGE: Final = "ModelChange"
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
    compared: Comparison | None = None  # the served run and a new version's, compared
    published: bool = False  # the run about to be served is in the served history


@dataclass(frozen=True)
class FindModel:
    choice: ModelChoice


@dataclass(frozen=True)
class Score:
    plan: ScoringPlan


@dataclass(frozen=True)
class Compare:
    """Read both runs' predictions and compare them, entity by entity."""

    served: PredictionRun
    shadow: PredictionRun
    keys: tuple[str, ...]  # the entities' join keys
    threshold: float


@dataclass(frozen=True)
class Publish:
    """Put a run's predictions into the served history, served from now (`served_at`): a
    shadow run once accepted, or the run a rollback restores. Redone whole if repeated."""

    source: str  # the run's partition
    target: str  # its partition in the served history
    lineage: tuple[tuple[str, str], ...]


Act = FindModel | Score | Compare | Publish
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
    rollback = _rollback(subject, status, observed, updates, published=seen.published)
    if rollback is not None:
        return rollback
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
    if run.is_change():
        return _change_step(run, seen, observed, now=now)
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

    def is_change(self) -> bool:
        """Whether a model version other than the served one should score: a shadow run."""
        served = self.status.served
        return served is not None and (served.model, served.model_version) != (
            self.model.registered,
            self.model.version,
        )

    def record(self, scored: Scored, now: dt.datetime, *, shadow: bool = False) -> PredictionRun:
        plan = self.plan(shadow=shadow)
        return PredictionRun(
            as_of=self.as_of,
            model=self.model.registered,
            model_version=self.model.version,
            view_version=plan.output.version,
            rows=scored.rows,
            seconds=round(scored.seconds, 3),
            finished_at=now,
            path=plan.partition,
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

    def plan(self, *, shadow: bool = False) -> ScoringPlan:
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
            partition=partition(name, self.as_of, self.model, root=str(root), shadow=shadow),
            batch_rows=spec.batch_rows,
            lineage=run_lineage(name, self.as_of, self.model),
            log=None if shadow else self._log_plan(),
        )

    def _log_plan(self) -> LogPlan | None:
        rate, namespace = self.spec.prediction_log.rate, self.subject.namespace
        if rate == 0:
            return None
        model = model_of(self.model.registered, namespace)
        return LogPlan(self.subject.name, namespace, model, rate)


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
    served = run.record(scored, now)
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


def _rollback(
    subject: Subject,
    status: BatchPredictionStatus,
    observed: tuple[Observation, ...],
    updates: Mapping[str, Any],
    *,
    published: bool,
) -> Report | Publish | None:
    """A person's rollback, once per request: the previous run's predictions are served again
    at once (its online values were kept; the history has them as served again from now), and
    its replacement is not shadowed again."""
    request = subject.annotations.get(ROLLBACK_REQUESTED)
    if not request or request == status.handled_rollback:
        return None
    done = dict(updates) | {"handled_rollback": request}
    previous, served = status.previous, status.served
    if previous is None or served is None:
        message = "Rollback requested, but no previous predictions are kept to restore."
        nothing = Observation(
            MODEL_CHANGE, "False", ModelChangeReason.NOTHING_TO_ROLL_BACK, message
        )
        return Report((*observed, nothing), done)
    if not published:
        root = str(namespace_root(subject.data_root, subject.namespace))
        target = published_partition(subject.name, previous, root=root, restored=request)
        lineage = (("batchPrediction", subject.name), ("restoredBy", request))
        return Publish(previous.path, target, lineage)
    message = (
        f"Rolled back: {served.model} version {served.model_version}'s predictions are no longer "
        f"served; version {previous.model_version}'s as of {previous.as_of.isoformat()} are."
    )
    back = Observation(MODEL_CHANGE, "True", ModelChangeReason.ROLLED_BACK, message)
    ready = _condition("True", BatchPredictionReason.SCORED, _served_message(previous))
    done |= {
        "phase": BatchPredictionPhase.SCORED,
        "served": previous,
        "previous": None,
        "shadow": None,
        "rolled_back": served.model_version,
    }
    return Report((*observed, ready, back), done)


def _change_step(
    run: _Run, seen: Seen, observed: tuple[Observation, ...], *, now: dt.datetime
) -> Step:
    """A new model version: score it as of the served run's as-of beside it (a shadow), compare
    the two, and let it replace the served predictions only within the limits and when the
    promotion rule allows it; otherwise hold it and say why."""
    served = run.status.served
    assert served is not None
    serving = _condition("True", BatchPredictionReason.SCORED, _served_message(served))
    updates = dict(run.updates) | {"phase": BatchPredictionPhase.SCORED}
    if run.status.rolled_back == run.model.version:
        message = f"Version {run.model.version} was rolled back: it is not shadowed again."
        held = Observation(MODEL_CHANGE, "True", ModelChangeReason.ROLLED_BACK, message)
        return Report((*observed, serving, held), updates)
    shadow_run = replace(run, as_of=served.as_of)  # the same as-of: only the models differ
    shadow = run.status.shadow
    if shadow is not None and (shadow.run.model_version, shadow.run.as_of) == (
        run.model.version,
        served.as_of,
    ):
        return _judged(run, shadow, observed, serving=serving, published=seen.published)
    if seen.scored is None:
        failed = shadow_run.failed_recently(now)
        if failed is not None:
            down = _condition("False", failed.reason, failed.message)
            return Report((*observed, down), updates | {"phase": BatchPredictionPhase.FAILED})
        return Score(shadow_run.plan(shadow=True))
    if isinstance(seen.scored, ScoringFailed):
        return _failed(shadow_run, seen.scored, observed, now=now)
    candidate = shadow_run.record(seen.scored, now, shadow=True)
    if seen.compared is None:
        return Compare(served, candidate, run.entities.join_keys, run.spec.output.threshold)
    record = _shadow_record(run, candidate, seen.compared)
    return _judged(run, record, observed, serving=serving, published=seen.published)


def _shadow_record(run: _Run, candidate: PredictionRun, comparison: Comparison) -> ShadowRecord:
    why = [*breaches(comparison, run.spec.shadow)]
    if run.model.refusal is not None:
        why.append(run.model.refusal)
    verdict = ShadowVerdict.HELD if why else ShadowVerdict.ACCEPTED
    message = summary(comparison) + (f"; held: {'; '.join(why)}" if why else "")
    return ShadowRecord(
        run=candidate,
        compared=comparison.compared,
        score_psi=comparison.score_psi,
        rank_agreement=comparison.rank_agreement,
        decision_flips=comparison.decision_flips,
        verdict=verdict,
        message=message,
    )


def _judged(
    run: _Run,
    record: ShadowRecord,
    observed: tuple[Observation, ...],
    *,
    serving: Observation,
    published: bool,
) -> Report | Publish:
    """Replace the served predictions with the shadow's (once they are in the served history),
    or hold them; a person may accept a held version (not one the promotion rule refuses)."""
    served = run.status.served
    assert served is not None
    version = record.run.model_version
    accepted_by_hand = run.subject.annotations.get(ACCEPT_REQUESTED) == version
    allowed = run.model.refusal is None
    if record.verdict is ShadowVerdict.ACCEPTED or (accepted_by_hand and allowed):
        if not published:
            root = str(namespace_root(run.subject.data_root, run.subject.namespace))
            target = published_partition(run.subject.name, record.run, root=root)
            lineage = run_lineage(run.subject.name, record.run.as_of, run.model)
            return Publish(record.run.path, target, lineage)
        how = "by a person" if record.verdict is ShadowVerdict.HELD else "within the limits"
        message = f"Version {version} replaced version {served.model_version} ({how}): "
        change = Observation(
            MODEL_CHANGE, "True", ModelChangeReason.SHADOW_ACCEPTED, message + record.message
        )
        ready = _condition("True", BatchPredictionReason.SCORED, _served_message(record.run))
        accepted = record.model_copy(update={"verdict": ShadowVerdict.ACCEPTED})
        updates = dict(run.updates) | {
            "phase": BatchPredictionPhase.SCORED,
            "served": record.run,
            "previous": served,
            "shadow": accepted,
            "last_failure": None,
        }
        return Report((*observed, ready, change), updates)
    message = (
        f"Version {version}'s predictions are computed beside version {served.model_version}'s "
        f"and held: {record.message}. Annotate {ACCEPT_REQUESTED}={version} to accept them."
    )
    held = Observation(MODEL_CHANGE, "False", ModelChangeReason.SHADOW_HELD, message)
    updates = dict(run.updates) | {"phase": BatchPredictionPhase.SCORED, "shadow": record}
    return Report((*observed, serving, held), updates)
