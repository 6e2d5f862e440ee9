"""A ModelMonitor's decisions: when it checks, what it watches (or why not), when it builds its
references, and the conditions its verdicts make, Healthy over them."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from paved.api.meta import Condition
from paved.api.model_monitor import ModelMonitorSpec, ModelMonitorStatus, References
from paved.core.conditions import Observation, event_type
from paved.core.monitor_checks import Check, CheckState, CheckVerdict, FeatureDrift, histogram
from paved.core.monitor_steps import (
    HEALTHY,
    WATCHING,
    BuildReferences,
    Judge,
    Production,
    Subject,
    Unwatched,
    decide,
    due,
    judged,
    judged_since,
    references_built,
    unwatched,
)
from paved.core.reasons import MonitorReason as Reason
from paved.core.rollout_steps import Traffic

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
SPEC = ModelMonitorSpec.model_validate(
    {
        "model": "churn",
        "target": {"seldonDeployment": {"name": "churn"}},
        "interval": "5m",
        "guardrails": {"rules": [{"builtin": "errorRate", "max": 0.01}]},
        "inputDrift": {},
    }
)
PRODUCTION = Production("team.churn", "3", "s3://paved/3/model", "churn-v3", None)
SERVED = Traffic(0, 100)


def _subject(status: ModelMonitorStatus | None = None, spec: ModelMonitorSpec = SPEC) -> Subject:
    return Subject(spec, status or ModelMonitorStatus(), generation=1)


def _references(version: str) -> References:
    return References(version=version, computed_at=NOW)


def test_nothing_is_judged_without_a_production_version() -> None:
    none = Unwatched(Reason.NO_PRODUCTION_VERSION, "team.churn has no production version.")
    assert decide(_subject(), none, None) == none


@pytest.mark.parametrize(
    ("traffic", "reason"),
    [(None, Reason.TARGET_NOT_FOUND), (Traffic(100, 0), Reason.TARGET_NOT_PRODUCTION)],
)
def test_a_target_that_does_not_serve_production_is_not_watched(
    traffic: Traffic | None, reason: Reason
) -> None:
    decision = decide(_subject(), PRODUCTION, traffic)
    assert isinstance(decision, Unwatched)
    assert decision.reason is reason


def test_references_are_built_once_per_production_version() -> None:
    assert decide(_subject(), PRODUCTION, SERVED) == BuildReferences(PRODUCTION)
    kept = ModelMonitorStatus(references=_references("3"))
    assert decide(_subject(kept), PRODUCTION, SERVED) == Judge(PRODUCTION, _references("3"))
    older = ModelMonitorStatus(references=_references("2"))
    assert decide(_subject(older), PRODUCTION, SERVED) == BuildReferences(PRODUCTION)


def test_guardrails_alone_need_no_references() -> None:
    spec = SPEC.model_copy(update={"input_drift": None})
    assert decide(_subject(spec=spec), PRODUCTION, SERVED) == Judge(PRODUCTION, None)


def test_a_check_is_due_at_the_interval_and_at_once_after_a_spec_change() -> None:
    checked = ModelMonitorStatus(observed_generation=1, next_check_at=NOW + dt.timedelta(minutes=5))
    assert not due(_subject(checked), NOW)
    assert due(_subject(checked), NOW + dt.timedelta(minutes=5))
    assert due(Subject(SPEC, checked, generation=2), NOW)
    assert due(_subject(), NOW)


def _verdicts(input_state: CheckState) -> list[CheckVerdict]:
    drift = FeatureDrift("clicks_7d", 0.31 if input_state is CheckState.ALARM else 0.02, 0.2)
    reason = Reason.DRIFT_DETECTED if input_state is CheckState.ALARM else Reason.NO_DRIFT
    return [
        CheckVerdict(Check.GUARDRAILS, CheckState.OK, Reason.GUARDRAILS_HOLD, "errorRate ok"),
        CheckVerdict(Check.INPUT_DRIFT, input_state, reason, "…", drift.psi, 0.2, 500, (drift,)),
    ]


def _conditions(observations: tuple[Observation, ...]) -> dict[str, tuple[str, str]]:
    return {o.type: (o.status, o.reason) for o in observations}


def test_a_drifted_input_makes_the_monitor_unhealthy() -> None:
    report = judged(_subject(), PRODUCTION, _verdicts(CheckState.ALARM), NOW)
    assert _conditions(report.observations) == {
        WATCHING: ("True", Reason.WATCHING),
        "GuardrailBreached": ("False", Reason.GUARDRAILS_HOLD),
        "InputDrift": ("True", Reason.DRIFT_DETECTED),
        HEALTHY: ("False", Reason.CHECKS_ALARM),
    }
    status = report.status
    assert (status.model_version, status.summary) == ("3", "alarm: InputDrift")
    assert [(d.feature, d.psi) for d in status.drift] == [("clicks_7d", 0.31)]
    assert status.next_check_at == NOW + dt.timedelta(minutes=5)


def test_a_stable_world_is_healthy() -> None:
    report = judged(_subject(), PRODUCTION, _verdicts(CheckState.OK), NOW)
    assert _conditions(report.observations)[HEALTHY] == ("True", Reason.ALL_CHECKS_PASS)
    assert report.status.summary == "healthy"


def test_a_check_not_judged_leaves_health_unknown() -> None:
    report = judged(_subject(), PRODUCTION, _verdicts(CheckState.UNKNOWN), NOW)
    assert _conditions(report.observations)[HEALTHY] == ("Unknown", Reason.NOT_JUDGED)


def test_when_not_watching_no_stale_alarm_stands() -> None:
    why = Unwatched(Reason.TARGET_NOT_PRODUCTION, "The target does not serve v3.")
    report = unwatched(_subject(), why, NOW)
    assert _conditions(report.observations) == {
        WATCHING: ("False", Reason.TARGET_NOT_PRODUCTION),
        "GuardrailBreached": ("Unknown", Reason.TARGET_NOT_PRODUCTION),
        "InputDrift": ("Unknown", Reason.TARGET_NOT_PRODUCTION),
        HEALTHY: ("Unknown", Reason.NOT_JUDGED),
    }


@pytest.mark.parametrize(
    ("type_", "status", "event"),
    [
        ("InputDrift", "True", "Warning"),
        ("InputDrift", "False", "Normal"),
        ("InputDrift", "Unknown", "Warning"),
        ("Healthy", "True", "Normal"),
        ("Healthy", "False", "Warning"),
        ("Ready", "Unknown", "Warning"),
    ],
)
def test_a_drift_alarm_is_a_warning_and_its_recovery_normal(
    type_: str, status: str, event: str
) -> None:
    condition = Condition.model_validate(
        {"type": type_, "status": status, "reason": "R", "lastTransitionTime": NOW}
    )
    assert event_type(condition) == event


def test_references_are_kept_with_their_version_and_the_checks_run_next() -> None:
    clicks = histogram("clicks_7d", [float(n) for n in range(100)], numeric=True, bins=10)
    report = references_built(_subject(), PRODUCTION, features=[clicks], scores=None, now=NOW)
    references = report.status.references
    assert references is not None
    assert (references.version, references.computed_at) == ("3", NOW)
    assert report.status.next_check_at is None  # judged at the next tick
    (watching,) = report.observations
    assert watching.message == (
        "Watching team.churn v3 (churn-v3); references: 1 features over 100 training rows."
    )


def test_the_window_judged_starts_no_earlier_than_the_promotion() -> None:
    hour_ago = NOW - dt.timedelta(hours=1)  # the spec's window: 1h
    assert judged_since(SPEC, PRODUCTION, NOW) == hour_ago
    promoted = replace(PRODUCTION, promoted_at=NOW - dt.timedelta(minutes=20))
    assert judged_since(SPEC, promoted, NOW) == NOW - dt.timedelta(minutes=20)
    long_ago = replace(PRODUCTION, promoted_at=NOW - dt.timedelta(days=3))
    assert judged_since(SPEC, long_ago, NOW) == hour_ago


def test_without_a_target_the_log_alone_is_judged() -> None:
    """A model served by batch or streaming predictions: no serving object to check."""
    spec = ModelMonitorSpec.model_validate({"model": "churn", "inputDrift": {}, "freshness": {}})

    assert decide(_subject(spec=spec), PRODUCTION, None) == BuildReferences(PRODUCTION)


def test_guardrails_need_a_target_to_read() -> None:
    with pytest.raises(ValueError, match="guardrails read the serving object's metrics"):
        ModelMonitorSpec.model_validate(
            {"model": "churn", "guardrails": {"rules": [{"builtin": "errorRate", "max": 0.01}]}}
        )
