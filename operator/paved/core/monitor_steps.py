"""A ModelMonitor's decisions (ADR 0031): whether a check is due, what the monitor watches, and
the status its checks' verdicts make.

Pure: the controller hands in the production version it resolved (or why there is none) and
the split its target serves, each tick; `decide` returns an act (build the references, judge
the checks) or a report, and the controller matches on it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from paved.api.meta import parse_duration
from paved.api.model_monitor import (
    CheckResult,
    FeatureDriftResult,
    Histogram,
    ModelMonitorSpec,
    ModelMonitorStatus,
    References,
)
from paved.core.conditions import Observation
from paved.core.monitor_checks import Check, CheckState, CheckVerdict
from paved.core.reasons import MonitorReason as Reason
from paved.core.rollout_steps import Traffic

WATCHING: Final = "Watching"
HEALTHY: Final = "Healthy"


@dataclass(frozen=True)
class Production:
    """The version watched: the registry's production version of the monitor's model."""

    model: str  # the registered model (`<namespace>.<model>`)
    version: str
    uri: str
    model_version: str | None  # the ModelVersion that trained it (its `paved.model_version`)
    promoted_at: dt.datetime | None  # when a Rollout promoted it (the registry's memory)


@dataclass(frozen=True)
class Unwatched:
    """Why nothing can be judged this tick."""

    reason: Reason
    message: str


@dataclass(frozen=True)
class Subject:
    spec: ModelMonitorSpec
    status: ModelMonitorStatus
    generation: int


@dataclass(frozen=True)
class BuildReferences:
    """Read the production version's training set (and its scores before promotion) once."""

    production: Production


@dataclass(frozen=True)
class Judge:
    """Read the recent window and judge every configured check."""

    production: Production
    references: References | None


@dataclass(frozen=True)
class Report:
    observations: tuple[Observation, ...]
    status: ModelMonitorStatus


Decision = Unwatched | BuildReferences | Judge


def configured(spec: ModelMonitorSpec) -> tuple[Check, ...]:
    """The checks this monitor runs, each a condition of its status."""
    sections = (
        (Check.GUARDRAILS, spec.guardrails),
        (Check.INPUT_DRIFT, spec.input_drift),
        (Check.PREDICTION_DRIFT, spec.prediction_drift),
        (Check.PERFORMANCE, spec.performance),
        (Check.FRESHNESS, spec.freshness),
        (Check.SKEW, spec.skew),
    )
    return tuple(check for check, section in sections if section is not None)


def due(subject: Subject, now: dt.datetime) -> bool:
    """At the interval, and at once after a spec change."""
    status = subject.status
    if status.observed_generation != subject.generation or status.next_check_at is None:
        return True
    return now >= status.next_check_at


def decide(
    subject: Subject, production: Production | Unwatched, traffic: Traffic | Unwatched | None
) -> Decision:
    """What this tick does: nothing can be judged (why), build the references, or judge."""
    if isinstance(production, Unwatched):
        return production
    # Without a target, the production version is judged on what batch and streaming
    # predictions logged of it: there is no serving object to check.
    served = None if subject.spec.target is None else _not_served(production, traffic)
    if served is not None:
        return served
    if _needs_references(subject, production):
        return BuildReferences(production)
    return Judge(production, subject.status.references)


def _not_served(production: Production, traffic: Traffic | Unwatched | None) -> Unwatched | None:
    """Why the target does not serve the production version (None: it does)."""
    if isinstance(traffic, Unwatched):
        return traffic
    if traffic is None:
        return Unwatched(Reason.TARGET_NOT_FOUND, "The target serving object does not exist.")
    if traffic.candidate == 0:
        message = (
            f"The target does not serve the production version {production.model}"
            f" v{production.version}: nothing is judged until it does."
        )
        return Unwatched(Reason.TARGET_NOT_PRODUCTION, message)
    return None


def judged_since(
    spec: ModelMonitorSpec, production: Production, now: dt.datetime, *, window: str | None = None
) -> dt.datetime:
    """Where the window a check reads starts: `window` (by default the monitor's) ago, but never
    before the promotion (what the version served before it, as a canary or a shadow, is its
    score reference)."""
    since = now - parse_duration(window or spec.window)
    at = production.promoted_at
    return since if at is None or at < since else min(at, now)


def _needs_references(subject: Subject, production: Production) -> bool:
    spec, references = subject.spec, subject.status.references
    if spec.input_drift is None and spec.prediction_drift is None:
        return False
    return references is None or references.version != production.version


def unwatched(subject: Subject, why: Unwatched, now: dt.datetime) -> Report:
    """Watching=False with why; every check Unknown (a stale alarm must not stand)."""
    checks = [
        Observation(c.value, "Unknown", why.reason, why.message) for c in configured(subject.spec)
    ]
    observed = (
        Observation(WATCHING, "False", why.reason, why.message),
        *checks,
        Observation(HEALTHY, "Unknown", Reason.NOT_JUDGED, f"Not watching: {why.message}"),
    )
    status = subject.status.model_copy(
        update={"next_check_at": _next(subject, now), "summary": "not watching"}
    )
    return Report(observed, status)


def references_built(
    subject: Subject,
    production: Production,
    *,
    features: Sequence[Histogram],
    scores: Histogram | None,
    now: dt.datetime,
) -> Report:
    """References kept in status; the checks run at the next tick, at once."""
    rows = max((h.rows for h in features), default=0)
    parts = [f"{len(features)} features over {rows} training rows"] if features else []
    if scores is not None:
        parts.append(f"{scores.rows} scores before its promotion")
    message = f"references: {', '.join(parts) or 'none needed'}."
    references = References(
        version=production.version,
        features=list(features),
        scores=scores,
        computed_at=now,
        message=message,
    )
    status = subject.status.model_copy(
        update={
            "references": references,
            "model_version": production.version,
            "next_check_at": None,
        }
    )
    message = f"Watching {_named(production)}; {message}"
    return Report((Observation(WATCHING, "True", Reason.WATCHING, message),), status)


def judged(
    subject: Subject, production: Production, verdicts: Sequence[CheckVerdict], now: dt.datetime
) -> Report:
    """The checks' conditions, Healthy over them, and what the status records of each."""
    watching = Observation(WATCHING, "True", Reason.WATCHING, f"Watching {_named(production)}.")
    healthy = _healthy(verdicts)
    drifts = [d for v in verdicts for d in v.drift]
    status = subject.status.model_copy(
        update={
            "model_version": production.version,
            "checks": [_result(v) for v in verdicts],
            "drift": [
                FeatureDriftResult(feature=d.feature, psi=d.psi, threshold=d.threshold)
                for d in drifts
            ],
            "performance": [r for v in verdicts for r in v.readings],
            "skew": [r for v in verdicts for r in v.skew],
            "last_checked_at": now,
            "next_check_at": _next(subject, now),
            "summary": _summary(verdicts),
        }
    )
    return Report((watching, *(v.observation() for v in verdicts), healthy), status)


def _named(production: Production) -> str:
    trained_by = f" ({production.model_version})" if production.model_version else ""
    return f"{production.model} v{production.version}{trained_by}"


def _next(subject: Subject, now: dt.datetime) -> dt.datetime:
    return now + parse_duration(subject.spec.interval)


def _result(verdict: CheckVerdict) -> CheckResult:
    return CheckResult(
        check=verdict.check.value,
        state=verdict.state.value,
        value=verdict.value,
        threshold=verdict.threshold,
        samples=verdict.samples,
        message=verdict.message,
    )


def _healthy(verdicts: Sequence[CheckVerdict]) -> Observation:
    alarms = [v.check.value for v in verdicts if v.state is CheckState.ALARM]
    if alarms:
        return Observation(HEALTHY, "False", Reason.CHECKS_ALARM, f"Alarm: {', '.join(alarms)}.")
    unknown = [v.check.value for v in verdicts if v.state is CheckState.UNKNOWN]
    if unknown:
        message = f"No alarm; not judged: {', '.join(unknown)}."
        return Observation(HEALTHY, "Unknown", Reason.NOT_JUDGED, message)
    return Observation(HEALTHY, "True", Reason.ALL_CHECKS_PASS, f"All {len(verdicts)} checks pass.")


def _summary(verdicts: Sequence[CheckVerdict]) -> str:
    alarms = [v.check.value for v in verdicts if v.state is CheckState.ALARM]
    if alarms:
        return "alarm: " + ", ".join(alarms)
    if any(v.state is CheckState.UNKNOWN for v in verdicts):
        return "not judged"
    return "healthy"
