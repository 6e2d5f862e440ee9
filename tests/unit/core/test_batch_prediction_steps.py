"""The BatchPrediction's steps, case by case: what the core asks for next, and what it reports."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from paved.api.batch_prediction import (
    BatchPredictionPhase,
    BatchPredictionSpec,
    BatchPredictionStatus,
    ShadowVerdict,
)
from paved.api.feature_view import FeatureViewSpec
from paved.core.batch_prediction_steps import (
    Compare,
    FindModel,
    Publish,
    Report,
    Score,
    Scored,
    ScoringFailed,
    Seen,
    Step,
    Subject,
    Waiting,
    decide,
)
from paved.core.batch_predictions import RUN_REQUESTED, LogPlan, ModelInput, ScoringModel
from paved.core.feature_views import view_definition
from paved.core.prediction_shadow import ACCEPT_REQUESTED, ROLLBACK_REQUESTED, Comparison
from paved.core.reasons import BatchPredictionReason, ModelChangeReason
from paved.core.references import Reference, acceptance

NOW = dt.datetime(2026, 12, 5, 10, 37, tzinfo=dt.UTC)
WATERMARK = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
SUBJECT = Subject("ml", "churn-scores", "/data")
ACCEPTED = acceptance([], "ml")
USERS = view_definition(
    "user-activity-v1",  # a FeatureView's name, not an identifier
    FeatureViewSpec.model_validate(
        {
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "source": {"path": "users/*.parquet", "timestampField": "event_timestamp"},
            "features": [{"name": "clicks_7d", "dtype": "int64"}],
        }
    ),
    "/data",
    namespace="ml",
)
V1 = ScoringModel(
    "ml.churn", "1", "s3://paved/m/1", "churn-v1", (ModelInput(USERS, ("clicks_7d",)),)
)
V2 = replace(V1, version="2", uri="s3://paved/m/2", model_version="churn-v2")


def spec(**trigger: Any) -> BatchPredictionSpec:
    return BatchPredictionSpec.model_validate(
        {
            "model": {"name": "churn"},
            "entities": {"featureView": "users"},
            "trigger": trigger or {"watermark": True},
            "output": {"ttl": "2d", "freshness": "1d"},
        }
    )


def step(
    status: BatchPredictionStatus | None = None,
    *,
    subject: Subject = SUBJECT,
    now: dt.datetime = NOW,
    the_spec: BatchPredictionSpec | None = None,
    **seen: Any,
) -> Step:
    seen = {"accepted": ACCEPTED, "entities": USERS, "watermark": WATERMARK} | seen
    return decide(
        subject, the_spec or spec(), status or BatchPredictionStatus(), seen=Seen(**seen), now=now
    )


def served(*, model: ScoringModel = V1, as_of: dt.datetime = WATERMARK) -> BatchPredictionStatus:
    report = step(BatchPredictionStatus(), model=model, scored=Scored(1000, 2.5))
    assert isinstance(report, Report)
    return BatchPredictionStatus.model_validate(
        BatchPredictionStatus().model_dump() | dict(report.updates)
    ).model_copy(update={"served": report.updates["served"].model_copy(update={"as_of": as_of})})


def ready(report: Step) -> tuple[str, str]:
    assert isinstance(report, Report)
    (condition,) = (o for o in report.observed if o.type == "Ready")
    return condition.status, condition.reason


def test_nothing_is_scored_while_a_reference_is_missing() -> None:
    missing = acceptance([Reference("FeatureView", "users")], "ml")
    report = step(accepted=missing)
    assert isinstance(report, Report)
    assert report.observed == (missing,)
    assert report.updates["phase"] is BatchPredictionPhase.PENDING


def test_a_view_without_a_watermark_has_nothing_to_score_yet() -> None:
    report = step(watermark=None)
    assert ready(report) == ("Unknown", BatchPredictionReason.WAITING_FOR_TRIGGER)


def test_a_due_run_first_finds_the_model() -> None:
    assert step() == FindModel(spec().model)


def test_no_production_version_waits_and_says_so() -> None:
    why = Waiting(BatchPredictionReason.NO_PRODUCTION_VERSION, "ml.churn has none")
    report = step(model=why)
    assert ready(report) == ("False", BatchPredictionReason.NO_PRODUCTION_VERSION)
    assert isinstance(report, Report)
    assert report.retry_after_seconds is not None


def test_the_run_is_as_of_the_watermark_and_writes_a_view_of_its_model_version() -> None:
    scored = step(model=V1)
    assert isinstance(scored, Score)
    plan = scored.plan
    assert plan.as_of == WATERMARK
    assert plan.output.join_keys == ("user_id",)
    assert plan.output.feature_names == ("score", "model_version")
    assert plan.output.ttl == dt.timedelta(days=2)
    assert plan.partition == "/data/ml/predictions/churn-scores/run=20261205T090000Z-v1"
    other = step(model=V2)
    assert isinstance(other, Score)
    assert other.plan.output.version != plan.output.version


def test_a_finished_run_is_served_with_its_numbers() -> None:
    report = step(model=V1, scored=Scored(1000, 2.5))
    assert ready(report) == ("True", BatchPredictionReason.SCORED)
    assert isinstance(report, Report)
    run = report.updates["served"]
    assert (run.as_of, run.model_version, run.rows, run.seconds) == (WATERMARK, "1", 1000, 2.5)
    assert report.updates["phase"] is BatchPredictionPhase.SCORED


def test_a_run_served_already_is_not_done_again() -> None:
    report = step(served(), model=V1)
    assert ready(report) == ("True", BatchPredictionReason.SCORED)


def test_the_watermark_moving_is_a_new_run() -> None:
    later = WATERMARK + dt.timedelta(hours=1)
    scored = step(served(), model=V1, watermark=later)
    assert isinstance(scored, Score)
    assert scored.plan.as_of == later


def test_a_new_version_is_shadowed_as_of_the_served_run_whatever_the_trigger_says() -> None:
    later = WATERMARK + dt.timedelta(hours=3)
    scored = step(served(), model=V2, watermark=later)
    assert isinstance(scored, Score)
    assert (scored.plan.model, scored.plan.as_of) == (V2, WATERMARK)


def shadowed(status: BatchPredictionStatus, comparison: Comparison, **seen: Any) -> Step:
    """The new version scored beside the served one, and the two compared; an accepted one put
    into the served history."""
    model = seen.pop("model", V2)
    compare = step(status, model=model, scored=Scored(1000, 3.0), **seen)
    assert isinstance(compare, Compare)
    assert compare.served == status.served
    assert compare.keys == ("user_id",)
    judged = step(status, model=model, scored=Scored(1000, 3.0), compared=comparison, **seen)
    if not isinstance(judged, Publish):
        return judged
    return step(
        status, model=model, scored=Scored(1000, 3.0), compared=comparison, published=True, **seen
    )


def test_a_shadow_run_is_written_outside_the_served_history() -> None:
    scored = step(served(), model=V2)
    assert isinstance(scored, Score)
    assert (
        scored.plan.partition == "/data/ml/predictions/churn-scores/shadow/run=20261205T090000Z-v2"
    )
    first = step(BatchPredictionStatus(), model=V1)
    assert isinstance(first, Score)
    assert first.plan.partition == "/data/ml/predictions/churn-scores/run=20261205T090000Z-v1"
    # Only what is served is logged: the shadow's predictions serve nobody.
    assert scored.plan.log is None
    assert first.plan.log == LogPlan("churn-scores", "ml", "churn", 0.01)


def test_an_accepted_shadow_enters_the_served_history_before_it_is_served() -> None:
    before = served()
    published = step(before, model=V2, scored=Scored(1000, 3.0), compared=CLOSE)
    assert isinstance(published, Publish)
    assert published.source.endswith("/predictions/churn-scores/shadow/run=20261205T090000Z-v2")
    assert published.target == "/data/ml/predictions/churn-scores/run=20261205T090000Z-v2"
    assert ("modelVersion", "2") in published.lineage
    held_back = step(before, model=V2, scored=Scored(1000, 3.0), compared=FAR)
    assert isinstance(held_back, Report)  # a held shadow stays outside it


CLOSE = Comparison(1000, 0.01, 0.97, 0.02)
FAR = Comparison(1000, 0.6, 0.3, 0.25)


def test_a_shadow_within_the_limits_replaces_the_served_predictions_and_keeps_them() -> None:
    before = served()
    report = shadowed(before, CLOSE)
    assert isinstance(report, Report)
    assert ready(report) == ("True", BatchPredictionReason.SCORED)
    change = next(o for o in report.observed if o.type == "ModelChange")
    assert (change.status, change.reason) == ("True", ModelChangeReason.SHADOW_ACCEPTED)
    assert report.updates["served"].model_version == "2"
    assert report.updates["previous"] == before.served
    assert report.updates["shadow"].verdict is ShadowVerdict.ACCEPTED


def held(report: Step) -> BatchPredictionStatus:
    assert isinstance(report, Report)
    change = next(o for o in report.observed if o.type == "ModelChange")
    assert (change.status, change.reason) == ("False", ModelChangeReason.SHADOW_HELD)
    assert "served" not in report.updates
    return served().model_copy(update=dict(report.updates))


def test_a_shadow_past_a_limit_is_held_with_the_numbers_and_not_scored_again() -> None:
    status = held(shadowed(served(), FAR))
    assert status.shadow is not None
    assert status.shadow.verdict is ShadowVerdict.HELD
    assert "score PSI 0.6000 > 0.25" in status.shadow.message
    assert "decisions flipped 25.00% > 10.00%" in status.shadow.message
    held(step(status, model=V2))  # the next tick: still held, nothing scored


def test_a_person_accepts_a_held_shadow() -> None:
    status = held(shadowed(served(), FAR))
    asked = replace(SUBJECT, annotations={ACCEPT_REQUESTED: "2"})
    published = step(status, subject=asked, model=V2)
    assert isinstance(published, Publish)
    report = step(status, subject=asked, model=V2, published=True)
    assert isinstance(report, Report)
    assert report.updates["served"].model_version == "2"


def test_a_version_the_promotion_rule_refuses_is_held_even_when_close_or_asked_for() -> None:
    unsigned = replace(V2, refusal="ModelVersion churn-v2 has no valid sign-off")
    status = held(shadowed(served(), CLOSE, model=unsigned))
    assert status.shadow is not None
    assert "no valid sign-off" in status.shadow.message
    asked = replace(SUBJECT, annotations={ACCEPT_REQUESTED: "2"})
    held(step(status, subject=asked, model=unsigned))


def test_a_rollback_restores_the_previous_predictions_at_once_and_once() -> None:
    replaced = shadowed(served(), CLOSE)
    assert isinstance(replaced, Report)
    status = served().model_copy(update=dict(replaced.updates))
    asked = replace(SUBJECT, annotations={ROLLBACK_REQUESTED: "2026-12-05T10:40:00Z"})
    restored = step(status, subject=asked, model=V2)
    assert isinstance(restored, Publish)  # served again from now: into the history again
    assert status.previous is not None
    assert restored.source == status.previous.path
    assert restored.target.startswith(
        "/data/ml/predictions/churn-scores/run=20261205T090000Z-v1-restored-"
    )
    report = step(status, subject=asked, model=V2, published=True)
    assert isinstance(report, Report)
    assert report.updates["served"].model_version == "1"
    after = status.model_copy(update=dict(report.updates))
    assert (after.rolled_back, after.previous) == ("2", None)
    again = step(after, subject=asked, model=V2)  # handled: version 2 is not shadowed again
    assert isinstance(again, Report)
    change = next(o for o in again.observed if o.type == "ModelChange")
    assert change.reason == ModelChangeReason.ROLLED_BACK
    assert "served" not in again.updates


def test_a_failed_run_keeps_what_is_served_and_backs_off() -> None:
    status = served(as_of=WATERMARK - dt.timedelta(hours=1))
    failed = step(status, model=V1, scored=ScoringFailed("OnlineStoreUnavailable", "refused"))
    assert ready(failed) == ("False", "OnlineStoreUnavailable")
    assert isinstance(failed, Report)
    after = status.model_copy(update=dict(failed.updates))
    assert after.served == status.served
    assert after.last_failure is not None
    assert after.last_failure.attempts == 1
    soon = step(after, model=V1, now=NOW + dt.timedelta(seconds=1))
    assert ready(soon) == ("False", "OnlineStoreUnavailable")
    later = step(after, model=V1, now=NOW + dt.timedelta(seconds=10))
    assert isinstance(later, Score)


def test_a_persons_request_runs_now_and_only_once() -> None:
    asked = replace(SUBJECT, annotations={RUN_REQUESTED: "2026-12-05T10:30:00+00:00"})
    scored = step(served(), subject=asked, model=V1)
    assert isinstance(scored, Score)
    assert scored.plan.as_of == dt.datetime(2026, 12, 5, 10, 30, tzinfo=dt.UTC)
    done = served(as_of=scored.plan.as_of)
    assert ready(step(done, subject=asked, model=V1)) == ("True", BatchPredictionReason.SCORED)


def test_a_schedule_runs_as_of_its_latest_time_and_names_the_next() -> None:
    nightly = spec(schedule="0 2 * * *")
    scored = step(the_spec=nightly, model=V1)
    assert isinstance(scored, Score)
    assert scored.plan.as_of == dt.datetime(2026, 12, 5, 2, 0, tzinfo=dt.UTC)
    report = step(the_spec=nightly, model=V1, scored=Scored(10, 1.0))
    assert isinstance(report, Report)
    assert report.updates["next_run_at"] == dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


def test_a_failed_shadow_run_says_so_and_waits_before_the_next_attempt() -> None:
    status = served()
    failed = step(status, model=V2, scored=ScoringFailed("ModelUnloadable", "s3://… is gone"))
    assert ready(failed) == ("False", "ModelUnloadable")
    assert isinstance(failed, Report)
    after = status.model_copy(update=dict(failed.updates))
    assert after.served == status.served
    soon = step(after, model=V2, now=NOW + dt.timedelta(seconds=1))
    assert ready(soon) == ("False", "ModelUnloadable")
    assert isinstance(step(after, model=V2, now=NOW + dt.timedelta(seconds=10)), Score)
