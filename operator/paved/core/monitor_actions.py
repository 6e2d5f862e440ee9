"""A ModelMonitor's actions after its checks (issue #19, item 3): retrain, per policy.

Pure: the controller hands in the checks' verdicts and how the last retraining's ModelVersion
stands. A trigger is a configured check that alarms now and already alarmed at the check
before (its condition True in the status the tick started from), so one noisy window never
trains a model, and the retraining's name comes from when the alarm began: a tick repeated
after a crash names the same ModelVersion, which exists already. At most one retraining is in
flight per monitor, and two starts are at least `coolDown` apart. The new ModelVersion goes
through the gates, the sign-off and a Rollout like any other: the monitor never signs off,
never rolls out, never promotes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from paved.api.meta import SCALAR_MAX_LENGTH, parse_duration, truncate
from paved.api.model_monitor import Retrain, RetrainingRecord
from paved.api.model_version import ModelVersionPhase, ModelVersionSpec
from paved.core.conditions import Observation
from paved.core.monitor_checks import CheckState, CheckVerdict
from paved.core.monitor_steps import Report, Subject
from paved.core.reasons import MonitorReason as Reason

RETRAINING: Final = "Retraining"
# On a retraining's ModelVersion: the monitor that started it, and why (also in its lineage:
# the pipeline parameters `retrained_by` and `retrained_because`, which MLflow records).
MONITOR_LABEL: Final = "paved.dev/model-monitor"
BECAUSE_ANNOTATION: Final = "paved.dev/retrained-because"
# On a retraining trained on labels from the prediction log: how many, and the file.
LABELS_ANNOTATION: Final = "paved.dev/labels-from-prediction-log"
# A ModelVersion in one of these phases still moves towards production (or waits for a person
# to sign it off and roll it out): the retraining is in flight.
IN_FLIGHT: Final = frozenset(
    {
        ModelVersionPhase.PENDING,
        ModelVersionPhase.TRAINING,
        ModelVersionPhase.EVALUATING,
        ModelVersionPhase.STAGING,
    }
)


@dataclass(frozen=True)
class LastRetraining:
    """The last retraining's ModelVersion as the cluster holds it now."""

    found: bool
    phase: ModelVersionPhase | None = None

    @property
    def in_flight(self) -> bool:
        return self.found and (self.phase is None or self.phase in IN_FLIGHT)


@dataclass(frozen=True)
class Since:
    """What happened since the last retraining started (or, before any, the production
    version's promotion: the `anchor`), for the schedule and new-labels triggers."""

    anchor: dt.datetime | None
    labelled: int | None = None  # logged predictions with a known outcome since (None: uncounted)


class Due(StrEnum):
    """Triggers that are not a check's alarm, by the name a retraining records."""

    SCHEDULE = "Schedule"
    NEW_LABELS = "NewLabels"


@dataclass(frozen=True)
class Trigger:
    """Why a retraining starts: a held alarm, the schedule or new labels; `began` names it."""

    name: str  # a check's condition type (`Check`), or a `Due`
    evidence: str
    began: dt.datetime


@dataclass(frozen=True)
class StartRetraining:
    """Create this ModelVersion: the template's spec, the trigger's evidence in its lineage."""

    spec: ModelVersionSpec
    record: RetrainingRecord
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)


def retrain(
    subject: Subject,
    verdicts: Sequence[CheckVerdict],
    last: LastRetraining | None,
    *,
    monitor: str,
    now: dt.datetime,
    since: Since | None = None,
) -> StartRetraining | Observation | None:
    """Start a retraining, or say why not (the Retraining condition); None: no retrain policy."""
    policy, record = subject.spec.actions.retrain, subject.status.retraining
    if policy is None:
        return None
    if record is not None and last is not None and last.in_flight:
        phase = last.phase.value if last.phase else "created"
        message = (
            f"{record.model_version} is {phase}: one retraining at a time. Started because "
            f"{record.evidence}"
        )
        return Observation(RETRAINING, "True", Reason.RETRAIN_IN_FLIGHT, message)
    held = _held_alarms(subject, verdicts, policy) + _due(policy, since or Since(None), now)
    if not held:
        return _not_triggered(record)
    if record is not None and now < record.started_at + parse_duration(policy.cool_down):
        resume = record.started_at + parse_duration(policy.cool_down)
        message = (
            f"{', '.join(t.name for t in held)} triggered, but {record.model_version} "
            f"started at {record.started_at.isoformat()}: none starts before {resume.isoformat()}"
            f" (coolDown {policy.cool_down})."
        )
        return Observation(RETRAINING, "False", Reason.COOLING_DOWN, message)
    return _start(subject, policy, held, monitor=monitor, now=now)


def _held_alarms(
    subject: Subject, verdicts: Sequence[CheckVerdict], policy: Retrain
) -> list[Trigger]:
    """Each trigger that alarms now and alarmed already, with when its alarm began."""
    before = {c.type: c for c in subject.status.conditions if c.status == "True"}
    triggers = {t.value for t in policy.when}
    return [
        Trigger(
            verdict.check.value, verdict.message, before[verdict.check.value].last_transition_time
        )
        for verdict in verdicts
        if verdict.state is CheckState.ALARM
        and verdict.check.value in triggers
        and verdict.check.value in before
    ]


def _due(policy: Retrain, since: Since, now: dt.datetime) -> list[Trigger]:
    """The schedule's and the new labels' triggers, named from the anchor, so a tick repeated
    after a crash names the same retraining. Without an anchor, neither counts."""
    anchor, due = since.anchor, []
    if anchor is None:
        return []
    if policy.every is not None and now >= anchor + parse_duration(policy.every):
        evidence = f"{policy.every} since {anchor.isoformat()}"
        due.append(Trigger(Due.SCHEDULE, evidence, anchor + parse_duration(policy.every)))
    labelled, wanted = since.labelled, policy.after_labels
    if wanted is not None and labelled is not None and labelled >= wanted:
        evidence = f"{labelled} labelled predictions since {anchor.isoformat()} ≥ {wanted}"
        due.append(Trigger(Due.NEW_LABELS, evidence, anchor))
    return due


def _not_triggered(record: RetrainingRecord | None) -> Observation:
    message = "No trigger: no alarm has held over two checks, nothing is due."
    if record is not None:
        message += f" The last retraining: {record.model_version} ({record.evidence})."
    return Observation(RETRAINING, "False", Reason.NOT_TRIGGERED, message)


def _start(
    subject: Subject,
    policy: Retrain,
    held: Sequence[Trigger],
    *,
    monitor: str,
    now: dt.datetime,
) -> StartRetraining:
    spec, template = subject.spec, policy.template
    began = min(trigger.began for trigger in held)
    evidence = truncate("; ".join(f"{t.name}: {t.evidence}" for t in held), SCALAR_MAX_LENGTH)
    parameters = template.pipeline.parameters | {
        "retrained_because": evidence,
        "retrained_by": f"ModelMonitor {monitor}",
    }
    # The template's pipeline, whichever way it names it, with the evidence among its parameters.
    pipeline = template.pipeline.model_copy(update={"parameters": parameters})
    trained = ModelVersionSpec(
        model=spec.model,
        task=template.task,
        pipeline=pipeline,
        features=template.features,
        labels=template.labels,
        gates=template.gates,
        approval=template.approval,
    )
    name = f"{spec.model}-retrain-{began.astimezone(dt.UTC):%Y%m%d-%H%M%S}"
    record = RetrainingRecord(
        model_version=name, trigger=held[0].name, evidence=evidence, started_at=now
    )
    return StartRetraining(
        trained, record, {MONITOR_LABEL: monitor}, {BECAUSE_ANNOTATION: evidence}
    )


def with_logged_labels(start: StartRetraining, *, path: str, rows: int) -> StartRetraining:
    """The retraining trained on the labels file written from the prediction log at `path`
    (the template's labels' columns), and its lineage saying so."""
    labels = start.spec.labels.model_copy(update={"path": path})
    spec = start.spec.model_copy(update={"labels": labels})
    annotations = {**start.annotations, LABELS_ANNOTATION: f"{rows} labelled predictions: {path}"}
    return StartRetraining(spec, start.record, start.labels, annotations)


def too_few_labels(start: StartRetraining, *, found: int, needed: int, window: str) -> Observation:
    """Not retrained: the log holds too few labelled predictions to train on (tried again at
    the next check while the alarm holds)."""
    message = (
        f"{found} labelled predictions in the last {window} < {needed} needed: "
        f"{start.record.model_version} not started ({start.record.evidence})"
    )
    return Observation(RETRAINING, "False", Reason.TOO_FEW_SAMPLES, message)


def started(start: StartRetraining, *, created: bool) -> Observation:
    """The Retraining condition once the ModelVersion exists (created now, or by a tick that
    crashed before it could say so)."""
    how = "Started" if created else "Found (created before)"
    message = f"{how} {start.record.model_version} because {start.record.evidence}"
    return Observation(RETRAINING, "True", Reason.RETRAIN_STARTED, message)


def refused(start: StartRetraining, why: str) -> Observation:
    """The API server refused the ModelVersion (a policy, admission): nothing was created."""
    message = f"{start.record.model_version} was refused: {why}"
    return Observation(RETRAINING, "False", Reason.RETRAIN_REFUSED, message)


def reported(
    report: Report, observation: Observation, record: RetrainingRecord | None = None
) -> Report:
    """The checks' report with the Retraining condition (and the retraining started, if any)."""
    status = report.status
    if record is not None:
        status = status.model_copy(update={"retraining": record})
    return Report((*report.observations, observation), status)
