"""The StreamingPrediction's decisions: the plan once everything it needs is there, why not
otherwise, and freshness and throughput from the backlog."""

from __future__ import annotations

import datetime as dt

import pytest

from paved.api.feature_view import FeatureViewSpec
from paved.api.streaming_prediction import Backlog
from paved.core.reasons import StreamingPredictionReason as Reason
from paved.core.streaming_predictions import (
    ChosenModel,
    Run,
    Subject,
    Wait,
    decide,
    events_per_second,
    fresh_condition,
    model_missing,
    ready_condition,
    stream_time,
)
from tests.support.streaming import FEATURE_VIEW, VIEW, spec

T0 = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)
MODEL = ChosenModel("team.churn", "3", "s3://paved/mlflow/3/model")
SUBJECT = Subject("team", "churn-stream", spec("events"))
VIEWS = {VIEW: FeatureViewSpec.model_validate(FEATURE_VIEW)}


def test_the_plan_names_the_model_version_and_the_outputs() -> None:
    decided = decide(SUBJECT, VIEWS, MODEL)
    assert isinstance(decided, Run)
    plan = decided.plan
    assert (plan.model, plan.model_version, plan.model_uri) == ("team.churn", "3", MODEL.uri)
    assert plan.output_stream == "paved:predictions:team:churn-stream"
    assert plan.features == ("activity:clicks", "activity:minutes")
    assert plan.claim_idle_ms == 3000


def test_a_new_model_version_is_a_new_plan_but_scaling_is_not() -> None:
    first = decide(SUBJECT, VIEWS, MODEL)
    newer = decide(SUBJECT, VIEWS, ChosenModel("team.churn", "4", "s3://paved/mlflow/4/model"))
    scaled = decide(Subject("team", "churn-stream", spec("events", replicas=3)), VIEWS, MODEL)
    assert isinstance(first, Run)
    assert isinstance(newer, Run)
    assert isinstance(scaled, Run)
    assert first.plan.digest() != newer.plan.digest()
    assert first.plan.digest() == scaled.plan.digest()


@pytest.mark.parametrize(
    ("views", "reason"),
    [
        ({}, Reason.FEATURE_VIEW_NOT_FOUND),
        ({VIEW: "3 invalid fields"}, Reason.FEATURE_VIEW_NOT_FOUND),
        (
            {
                VIEW: FeatureViewSpec.model_validate(
                    {**FEATURE_VIEW, "features": [{"name": "clicks", "dtype": "int64"}]}
                )
            },
            Reason.FEATURE_NOT_FOUND,
        ),
        (
            {
                VIEW: FeatureViewSpec.model_validate(
                    {**FEATURE_VIEW, "entity": {"name": "u", "joinKeys": ["account"]}}
                )
            },
            Reason.JOIN_KEYS_DIFFER,
        ),
    ],
    ids=["missing", "unreadable", "no-such-feature", "other-join-keys"],
)
def test_nothing_runs_until_every_feature_is_there(views: dict, reason: Reason) -> None:
    decided = decide(SUBJECT, views, MODEL)
    assert isinstance(decided, Wait)
    assert (decided.observation.status, decided.observation.reason) == ("False", reason)


def test_nothing_runs_without_a_model_version() -> None:
    missing = model_missing(Reason.MODEL_NOT_FOUND, "team.churn has no production version.")
    assert decide(SUBJECT, VIEWS, missing) is missing


def test_ready_counts_the_workers() -> None:
    decided = decide(SUBJECT, VIEWS, MODEL)
    assert isinstance(decided, Run)
    assert ready_condition(decided.plan, 0).reason == Reason.WORKERS_STARTING
    running = ready_condition(decided.plan, 1)
    assert (running.status, running.reason) == ("True", Reason.RUNNING)
    assert "team.churn v3" in running.message


@pytest.mark.parametrize(
    ("backlog", "status", "reason"),
    [
        (Backlog(lag=0, pending=0), "True", Reason.CAUGHT_UP),
        (Backlog(lag=3, pending=2, oldest_seconds=4.0), "True", Reason.WITHIN_SLO),
        (Backlog(lag=900, pending=100, oldest_seconds=31.0), "False", Reason.SLO_BREACHED),
        (None, "Unknown", Reason.STREAM_UNAVAILABLE),
    ],
)
def test_fresh_while_the_oldest_unscored_event_is_within_the_slo(
    backlog: Backlog | None, status: str, reason: Reason
) -> None:
    fresh = fresh_condition(backlog, dt.timedelta(seconds=30))
    assert (fresh.status, fresh.reason) == (status, reason)


def test_throughput_is_events_read_per_second_between_two_looks() -> None:
    before = Backlog(entries_read=1_000, at=T0)
    after = Backlog(entries_read=6_000, at=T0 + dt.timedelta(seconds=5))
    assert events_per_second(before, after) == 1_000.0
    assert events_per_second(None, after) is None
    assert events_per_second(after, before) is None  # the stream was recreated: no rate


def test_an_entry_id_is_its_append_time() -> None:
    assert stream_time("1796464800000-7") == dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)
