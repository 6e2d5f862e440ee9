"""A ModelMonitor's retrain policy: an alarm held over two checks starts one retraining from the
template, named by when the alarm began, its evidence in the new version's lineage; never a
second while one is in flight or within the cool-down, and never a sign-off or a promotion."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from paved.api.meta import Condition
from paved.api.model_monitor import (
    Actions,
    Freshness,
    ModelMonitorSpec,
    ModelMonitorStatus,
    Retrain,
    RetrainingRecord,
)
from paved.api.model_version import ModelVersionPhase
from paved.core.conditions import Observation, event_type
from paved.core.monitor_actions import (
    BECAUSE_ANNOTATION,
    MONITOR_LABEL,
    RETRAINING,
    LastRetraining,
    Since,
    StartRetraining,
    refused,
    retrain,
    started,
)
from paved.core.monitor_checks import Check, CheckState, CheckVerdict
from paved.core.monitor_steps import Subject
from paved.core.reasons import MonitorReason as Reason
from tests.support.training import example

NOW = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
ALARM_BEGAN = NOW - dt.timedelta(minutes=5)
TEMPLATE = {
    key: example("02-modelversion.yaml")["spec"][key]
    for key in ("pipeline", "features", "labels", "gates")
}
SPEC = ModelMonitorSpec.model_validate(
    {
        "model": "churn",
        "target": {"seldonDeployment": {"name": "churn"}},
        "inputDrift": {},
        "actions": {"retrain": {"template": TEMPLATE, "coolDown": "24h"}},
    }
)
DRIFTED = CheckVerdict(
    Check.INPUT_DRIFT,
    CheckState.ALARM,
    Reason.DRIFT_DETECTED,
    "1 of 4 features drifted (600 logged predictions): clicks_7d PSI 0.913 > 0.200.",
)
CALM = CheckVerdict(Check.INPUT_DRIFT, CheckState.OK, Reason.NO_DRIFT, "no drift")


def _alarmed_before(**status: object) -> ModelMonitorStatus:
    condition = Condition(
        type="InputDrift",
        status="True",
        reason=Reason.DRIFT_DETECTED,
        last_transition_time=ALARM_BEGAN,
    )
    return ModelMonitorStatus.model_validate({"conditions": [condition], **status})


def _subject(status: ModelMonitorStatus) -> Subject:
    return Subject(SPEC, status, generation=1)


def _why_not(
    status: ModelMonitorStatus,
    verdict: CheckVerdict,
    last: LastRetraining | None,
    now: dt.datetime = NOW,
) -> Observation:
    """The Retraining condition of a tick that starts no retraining."""
    observed = retrain(_subject(status), [verdict], last, monitor="churn", now=now)
    assert isinstance(observed, Observation)
    return observed


def _record(started_at: dt.datetime) -> RetrainingRecord:
    return RetrainingRecord(
        model_version="churn-retrain-x", trigger="InputDrift", evidence="…", started_at=started_at
    )


def test_an_alarm_held_over_two_checks_starts_a_retraining_from_the_template() -> None:
    start = retrain(_subject(_alarmed_before()), [DRIFTED], None, monitor="churn", now=NOW)
    assert isinstance(start, StartRetraining)
    assert start.record.model_version == "churn-retrain-20261205-115500"  # when the alarm began
    assert start.spec.model == "churn"
    assert start.spec.features == SPEC.actions.retrain.template.features  # type: ignore[union-attr]
    assert start.spec.approval.sign_off is None  # a person signs it off, or nobody does
    parameters = start.spec.pipeline.parameters
    assert parameters["max_depth"] == 4
    assert parameters["retrained_because"] == f"InputDrift: {DRIFTED.message}"
    assert parameters["retrained_by"] == "ModelMonitor churn"
    assert start.labels == {MONITOR_LABEL: "churn"}
    assert "clicks_7d PSI 0.913 > 0.200" in start.annotations[BECAUSE_ANNOTATION]


def test_a_first_alarm_alone_starts_nothing() -> None:
    observed = _why_not(ModelMonitorStatus(), DRIFTED, None)
    assert (observed.type, observed.status, observed.reason) == (
        RETRAINING,
        "False",
        Reason.NOT_TRIGGERED,
    )


def test_no_alarm_starts_nothing() -> None:
    assert _why_not(_alarmed_before(), CALM, None).reason is Reason.NOT_TRIGGERED


def test_one_retraining_at_a_time() -> None:
    status = _alarmed_before(retraining=_record(NOW - dt.timedelta(days=3)))
    for phase in (ModelVersionPhase.TRAINING, ModelVersionPhase.STAGING, None):
        last = LastRetraining(found=True, phase=phase)
        assert _why_not(status, DRIFTED, last).reason is Reason.RETRAIN_IN_FLIGHT
    done = LastRetraining(found=True, phase=ModelVersionPhase.PRODUCTION)
    assert isinstance(
        retrain(_subject(status), [DRIFTED], done, monitor="m", now=NOW), StartRetraining
    )


def test_the_cool_down_holds_back_the_next_retraining() -> None:
    status = _alarmed_before(retraining=_record(NOW - dt.timedelta(hours=2)))
    gone = LastRetraining(found=False)
    observed = _why_not(status, DRIFTED, gone)
    assert observed.reason is Reason.COOLING_DOWN
    assert "none starts before 2026-12-06T10:00:00+00:00" in observed.message
    later = NOW + dt.timedelta(hours=23)
    assert isinstance(
        retrain(_subject(status), [DRIFTED], gone, monitor="m", now=later), StartRetraining
    )


def test_without_a_retrain_policy_there_is_no_retraining_condition() -> None:
    spec = SPEC.model_copy(update={"actions": SPEC.actions.model_copy(update={"retrain": None})})
    subject = Subject(spec, _alarmed_before(), generation=1)
    assert retrain(subject, [DRIFTED], None, monitor="churn", now=NOW) is None


def test_a_retraining_started_is_news_and_a_refusal_a_warning() -> None:
    start = retrain(_subject(_alarmed_before()), [DRIFTED], None, monitor="churn", now=NOW)
    assert isinstance(start, StartRetraining)
    for observed, event in (
        (started(start, created=True), "Normal"),
        (refused(start, "no"), "Warning"),
    ):
        condition = Condition(
            type=observed.type,
            status=observed.status,
            reason=observed.reason,
            last_transition_time=NOW,
        )
        assert event_type(condition) == event


def test_a_regressions_retraining_is_a_regression_gated_on_its_own_metric() -> None:
    template = TEMPLATE | {
        "task": "regression",
        "gates": {"metric": {"name": "rmse", "maxRelativeRegression": 0.05}},
    }
    spec = SPEC.model_copy(
        update={"actions": SPEC.actions.model_validate({"retrain": {"template": template}})}
    )
    start = retrain(
        Subject(spec, _alarmed_before(), generation=1), [DRIFTED], None, monitor="spend", now=NOW
    )
    assert isinstance(start, StartRetraining)
    assert (start.spec.task, start.spec.gates.metric.name) == ("regression", "rmse")


def _scheduled(**retrain_fields: object) -> Subject:
    """A monitor that retrains on the schedule or on new labels, not on an alarm."""
    policy = Retrain.model_validate({"template": TEMPLATE, "when": [], **retrain_fields})
    spec = SPEC.model_copy(update={"actions": Actions(retrain=policy)})
    return Subject(spec, ModelMonitorStatus(), generation=1)


def test_the_schedule_retrains_once_due_since_the_promotion_named_by_when_it_fell_due() -> None:
    subject = _scheduled(every="7d")
    promoted = NOW - dt.timedelta(days=8)

    early = retrain(subject, [CALM], None, monitor="m", now=NOW, since=Since(NOW))
    due = retrain(subject, [CALM], None, monitor="m", now=NOW, since=Since(promoted))

    assert isinstance(early, Observation)
    assert early.reason == Reason.NOT_TRIGGERED
    assert isinstance(due, StartRetraining)
    assert due.record.trigger == "Schedule"
    assert due.record.evidence == f"Schedule: 7d since {promoted.isoformat()}"
    assert due.record.model_version == "churn-retrain-20261204-120000"  # promoted + 7d


def test_enough_new_labels_retrain_and_uncounted_ones_never_do() -> None:
    subject = _scheduled(afterLabels=10_000)
    promoted = NOW - dt.timedelta(days=2)

    few = retrain(subject, [CALM], None, monitor="m", now=NOW, since=Since(promoted, 9_999))
    enough = retrain(subject, [CALM], None, monitor="m", now=NOW, since=Since(promoted, 10_000))
    uncounted = retrain(subject, [CALM], None, monitor="m", now=NOW, since=Since(promoted))

    assert isinstance(few, Observation)
    assert isinstance(uncounted, Observation)
    assert isinstance(enough, StartRetraining)
    assert enough.record.evidence.startswith("NewLabels: 10000 labelled predictions since")


def test_a_retrain_policy_without_any_trigger_is_refused() -> None:
    with pytest.raises(ValidationError, match="a retraining needs a trigger"):
        Retrain.model_validate({"template": TEMPLATE, "when": []})


def test_stale_features_held_over_two_checks_start_a_retraining() -> None:
    spec = SPEC.model_copy(
        update={
            "input_drift": None,
            "freshness": Freshness(),
            "actions": Actions(
                retrain=Retrain.model_validate({"template": TEMPLATE, "when": ["FeaturesStale"]})
            ),
        }
    )
    stale = CheckVerdict(
        Check.FRESHNESS,
        CheckState.ALARM,
        Reason.FEATURES_STALE,
        "30 of 1000 served entities have stale features: 3.00% > 1.00%.",
    )
    before = ModelMonitorStatus.model_validate(
        {
            "conditions": [
                Condition(
                    type="FeaturesStale",
                    status="True",
                    reason=Reason.FEATURES_STALE,
                    last_transition_time=ALARM_BEGAN,
                )
            ]
        }
    )

    start = retrain(Subject(spec, before, generation=1), [stale], None, monitor="churn", now=NOW)

    assert isinstance(start, StartRetraining)
    assert start.record.trigger == "FeaturesStale"
    assert start.record.evidence.startswith("FeaturesStale: 30 of 1000 served entities")


def test_a_stale_features_trigger_needs_the_freshness_check() -> None:
    retrain_policy = {"template": TEMPLATE, "when": ["FeaturesStale"]}
    with pytest.raises(ValidationError, match="FeaturesStale is not a check this monitor runs"):
        ModelMonitorSpec.model_validate(
            {
                "model": "churn",
                "target": {"seldonDeployment": {"name": "churn"}},
                "skew": {},
                "actions": {"retrain": retrain_policy},
            }
        )
