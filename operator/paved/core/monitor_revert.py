"""A ModelMonitor's revert action (issue #19, item 3): put the previous production version back
when the one serving breaks a hard guardrail, as a Rollout rolls its candidate back.

Pure. The monitor asks the Rollout that promoted the production version to revert (the
`paved.dev/revert` annotation, as `paved model revert` does, ADR 0019): the Rollout's controller
moves traffic and the registry and writes why on both. A guardrail breach reverts at its first
alarm; a performance drop once it has alarmed at two checks in a row. At most once per
production version, and never again until a version is promoted after the revert: an alarm
that is not the model's fault must not walk production back through its history. No promoting
Rollout (a version put in production by hand) is reported, never guessed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from paved.api.meta import SCALAR_MAX_LENGTH, truncate
from paved.api.model_monitor import RevertPolicy, RevertRecord, RevertTrigger
from paved.core.conditions import Observation
from paved.core.monitor_checks import CheckState, CheckVerdict
from paved.core.monitor_steps import Production, Report, Subject
from paved.core.reasons import MonitorReason as Reason

REVERT: Final = "Revert"
# Alarms that revert at once; the others must hold over two checks.
AT_ONCE: Final = frozenset({RevertTrigger.GUARDRAIL_BREACHED})


@dataclass(frozen=True)
class RequestRevert:
    """Annotate `rollout` with `value` (the reason): its controller carries the revert out."""

    rollout: str
    value: str
    record: RevertRecord


def revert(
    subject: Subject,
    verdicts: Sequence[CheckVerdict],
    production: Production,
    promoting: str | None,
    *,
    monitor: str,
    now: dt.datetime,
) -> RequestRevert | Observation | None:
    """Ask for a revert, or say why not (the Revert condition); None: no revert policy, or no
    trigger alarms."""
    policy, record = subject.spec.actions.revert, subject.status.revert
    if policy is None:
        return None
    if record is not None and record.version == production.version:
        message = (
            f"Asked Rollout {record.rollout} to revert v{record.version} at "
            f"{record.requested_at.isoformat()} because {record.evidence}"
        )
        return Observation(REVERT, "True", Reason.REVERT_REQUESTED, message)
    triggered = _triggered(subject, verdicts, policy)
    if not triggered:
        message = "No revert trigger alarms."
        if record is not None:
            message += (
                f" The last revert: v{record.version} through Rollout {record.rollout} "
                f"({record.evidence})."
            )
        return Observation(REVERT, "False", Reason.NOT_TRIGGERED, message)
    evidence = truncate(
        "; ".join(f"{v.check.value}: {v.message}" for v in triggered), SCALAR_MAX_LENGTH
    )
    if record is not None and not _promoted_since(production, record):
        message = (
            f"{evidence}; but this monitor reverted v{record.version} at "
            f"{record.requested_at.isoformat()}, and v{production.version} has not been promoted "
            "since: it reverts no further on its own (paved model revert does, by hand)"
        )
        return Observation(REVERT, "False", Reason.ALREADY_REVERTED, message)
    if promoting is None:
        message = (
            f"{evidence}; but no Succeeded Rollout promoted v{production.version}: nothing to "
            "revert through (put a version back by hand)"
        )
        return Observation(REVERT, "False", Reason.NO_PROMOTING_ROLLOUT, message)
    reason = truncate(f"ModelMonitor {monitor}: {evidence}", SCALAR_MAX_LENGTH - 40)
    new = RevertRecord(
        rollout=promoting,
        version=production.version,
        trigger=triggered[0].check.value,
        evidence=evidence,
        requested_at=now,
    )
    return RequestRevert(promoting, f"{reason} (requested {now.isoformat()})", new)


def reverted(
    report: Report, observation: Observation, record: RevertRecord | None = None
) -> Report:
    """The checks' report with the Revert condition (and the revert asked for, if any)."""
    status = report.status
    if record is not None:
        status = status.model_copy(update={"revert": record})
    return Report((*report.observations, observation), status)


def under_way(report: Report) -> bool:
    """Whether this tick asked for a revert (or one it asked for still stands): then no
    retraining is decided, since what to retrain from is the version put back."""
    return any(o.type == REVERT and o.status == "True" for o in report.observations)


def requested(request: RequestRevert) -> Observation:
    message = (
        f"Asked Rollout {request.rollout} to revert v{request.record.version}: {request.value}"
    )
    return Observation(REVERT, "True", Reason.REVERT_REQUESTED, message)


def _promoted_since(production: Production, record: RevertRecord) -> bool:
    """Whether production was promoted after the last revert: a version a revert put back (or
    one promoted before) is never reverted again automatically, so an alarm that is not the
    model's fault (an upstream outage) cannot walk production back through its history."""
    return production.promoted_at is not None and production.promoted_at > record.requested_at


def _triggered(
    subject: Subject, verdicts: Sequence[CheckVerdict], policy: RevertPolicy
) -> list[CheckVerdict]:
    """The triggers that alarm now: at once for a guardrail, else held since the check before."""
    before = {c.type for c in subject.status.conditions if c.status == "True"}
    triggers = {t.value: t for t in policy.when}
    return [
        verdict
        for verdict in verdicts
        if verdict.state is CheckState.ALARM
        and verdict.check.value in triggers
        and (triggers[verdict.check.value] in AT_ONCE or verdict.check.value in before)
    ]


def promoting_rollout(
    rollouts: Sequence[tuple[str, str, str | None, str]], production: Production
) -> str | None:
    """The Succeeded Rollout whose candidate trained the production version (the latest, by
    creation time in RFC 3339, which orders as text); `rollouts` are (name, candidate
    ModelVersion, phase, creation time)."""
    found = [
        (created, name)
        for name, candidate, phase, created in rollouts
        if candidate == production.model_version and phase == "Succeeded"
    ]
    return max(found)[1] if found else None
