"""A ModelMonitor's revert policy: a guardrail breach on the production version asks the Rollout
that promoted it to put the previous version back, at once; a performance drop once it has held
over two checks; once per production version; and never without a Rollout to revert through."""

from __future__ import annotations

import datetime as dt

from paved.api.meta import Condition
from paved.api.model_monitor import ModelMonitorSpec, ModelMonitorStatus, RevertRecord
from paved.core.conditions import Observation, event_type
from paved.core.monitor_checks import Check, CheckState, CheckVerdict
from paved.core.monitor_revert import (
    REVERT,
    RequestRevert,
    promoting_rollout,
    requested,
    revert,
    reverted,
    under_way,
)
from paved.core.monitor_steps import Production, Report, Subject
from paved.core.reasons import MonitorReason as Reason

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
PRODUCTION = Production("ml.churn", "3", "s3://m/3", "churn-v3", NOW - dt.timedelta(hours=1))
SPEC = ModelMonitorSpec.model_validate(
    {
        "model": "churn",
        "target": {"seldonDeployment": {"name": "churn"}},
        "guardrails": {"rules": [{"builtin": "errorRate", "max": 0.01}]},
        "performance": {},
        "actions": {"revert": {"when": ["GuardrailBreached", "PerformanceDropped"]}},
    }
)
BREACHED = CheckVerdict(
    Check.GUARDRAILS, CheckState.ALARM, Reason.GUARDRAIL_BREACHED, "errorRate 0.25 > 0.01"
)
DROPPED = CheckVerdict(
    Check.PERFORMANCE,
    CheckState.ALARM,
    Reason.PERFORMANCE_DROPPED,
    "auc 0.61 live on 900 judged predictions vs 0.78 at training: worse by 0.17 > 0.05 allowed.",
)


def _subject(status: ModelMonitorStatus | None = None) -> Subject:
    return Subject(SPEC, status or ModelMonitorStatus(), 1)


def _alarmed_before(check: Check) -> ModelMonitorStatus:
    condition = Condition(type=check.value, status="True", reason="Alarm", last_transition_time=NOW)
    return ModelMonitorStatus(conditions=[condition])


def test_a_guardrail_breach_asks_the_promoting_rollout_at_once() -> None:
    action = revert(_subject(), [BREACHED], PRODUCTION, "churn-v3", monitor="churn", now=NOW)

    assert isinstance(action, RequestRevert)
    assert action.rollout == "churn-v3"
    assert action.value == (
        "ModelMonitor churn: GuardrailBreached: errorRate 0.25 > 0.01 "
        f"(requested {NOW.isoformat()})"
    )
    assert (action.record.version, action.record.trigger) == ("3", "GuardrailBreached")


def test_a_performance_drop_reverts_only_once_it_has_held() -> None:
    first = revert(_subject(), [DROPPED], PRODUCTION, "churn-v3", monitor="churn", now=NOW)
    held = revert(
        _subject(_alarmed_before(Check.PERFORMANCE)),
        [DROPPED],
        PRODUCTION,
        "churn-v3",
        monitor="churn",
        now=NOW,
    )

    assert isinstance(first, Observation)
    assert (first.status, first.reason) == ("False", Reason.NOT_TRIGGERED)
    assert isinstance(held, RequestRevert)
    assert held.record.trigger == "PerformanceDropped"


def test_one_revert_per_production_version() -> None:
    asked = RevertRecord(
        rollout="churn-v3", version="3", trigger="GuardrailBreached", evidence="e", requested_at=NOW
    )
    status = ModelMonitorStatus(revert=asked)

    again = revert(_subject(status), [BREACHED], PRODUCTION, "churn-v3", monitor="m", now=NOW)

    assert isinstance(again, Observation)
    assert (again.type, again.status, again.reason) == (REVERT, "True", Reason.REVERT_REQUESTED)


def test_a_version_put_back_is_not_reverted_again_until_a_new_promotion() -> None:
    asked = RevertRecord(
        rollout="churn-v3", version="3", trigger="GuardrailBreached", evidence="e", requested_at=NOW
    )
    status = ModelMonitorStatus(revert=asked)
    restored = Production("ml.churn", "2", "s3://m/2", "churn-v2", NOW - dt.timedelta(days=3))
    promoted_later = Production("ml.churn", "4", "s3://m/4", "churn-v4", NOW + dt.timedelta(1))

    walked_back = revert(_subject(status), [BREACHED], restored, "churn-v2", monitor="m", now=NOW)
    newer = revert(_subject(status), [BREACHED], promoted_later, "churn-v4", monitor="m", now=NOW)

    assert isinstance(walked_back, Observation)
    assert (walked_back.status, walked_back.reason) == ("False", Reason.ALREADY_REVERTED)
    assert "reverts no further on its own" in walked_back.message
    assert isinstance(newer, RequestRevert)
    assert newer.rollout == "churn-v4"


def test_without_a_promoting_rollout_nothing_is_guessed_and_it_says_so() -> None:
    action = revert(_subject(), [BREACHED], PRODUCTION, None, monitor="churn", now=NOW)

    assert isinstance(action, Observation)
    assert (action.status, action.reason) == ("False", Reason.NO_PROMOTING_ROLLOUT)
    assert "no Succeeded Rollout promoted v3" in action.message
    condition = Condition(
        type=action.type, status=action.status, reason=action.reason, last_transition_time=NOW
    )
    assert event_type(condition) == "Warning"


def test_the_promoting_rollout_is_the_latest_succeeded_one_of_the_production_candidate() -> None:
    rollouts = [
        ("churn-v3-first", "churn-v3", "Succeeded", "2026-12-01T10:00:00Z"),
        ("churn-v3-again", "churn-v3", "Succeeded", "2026-12-02T10:00:00Z"),
        ("churn-v3-failed", "churn-v3", "RolledBack", "2026-12-03T10:00:00Z"),
        ("churn-v2", "churn-v2", "Succeeded", "2026-12-04T10:00:00Z"),
    ]

    assert promoting_rollout(rollouts, PRODUCTION) == "churn-v3-again"
    assert promoting_rollout(rollouts[2:], PRODUCTION) is None


def test_a_revert_asked_for_this_tick_or_standing_holds_the_retraining_back() -> None:
    asking = revert(_subject(), [BREACHED], PRODUCTION, "churn-v3", monitor="m", now=NOW)
    assert isinstance(asking, RequestRevert)
    calm = revert(_subject(), [], PRODUCTION, "churn-v3", monitor="m", now=NOW)
    assert isinstance(calm, Observation)
    empty = Report((), ModelMonitorStatus())

    assert under_way(reverted(empty, requested(asking), asking.record))
    assert not under_way(reverted(empty, calm))
