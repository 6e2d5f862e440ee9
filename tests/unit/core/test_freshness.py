from __future__ import annotations

import datetime as dt

import pytest

from paved.api.feature_view import DataType
from paved.core.feature_views import FeatureDefinition, ViewDefinition
from paved.core.freshness import advance, feature_lags, fresh_condition, is_due, summary

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
VIEW = ViewDefinition(
    namespace="team-a",
    name="user-activity-v1",
    version="abc",
    join_keys=("user_id",),
    source="/data/*.parquet",
    data_root="/data",
    timestamp_field="ts",
    created_timestamp_field=None,
    ttl=None,
    features=(
        FeatureDefinition("clicks_7d", DataType.FLOAT64, freshness=dt.timedelta(seconds=10)),
        FeatureDefinition("country", DataType.STRING, freshness=dt.timedelta(hours=24)),
        FeatureDefinition("segment", DataType.STRING),
    ),
)


def test_every_feature_is_fresh_within_its_slo() -> None:
    lags = feature_lags(VIEW, NOW - dt.timedelta(seconds=10), NOW)
    assert [lag.ok for lag in lags] == [True, True, True]  # exactly at the SLO is still fresh
    assert fresh_condition(lags).status == "True"
    assert summary(lags) == "fresh"


def test_a_breach_names_the_feature_and_both_numbers() -> None:
    lags = feature_lags(VIEW, NOW - dt.timedelta(seconds=95), NOW)
    assert [lag.ok for lag in lags] == [False, True, True]
    condition = fresh_condition(lags)
    assert (condition.status, condition.reason) == ("False", "SloBreached")
    assert condition.message == "Stale features (lag > SLO): clicks_7d 95s > 10s."
    assert summary(lags) == "1/3 stale"


def test_nothing_online_is_not_fresh_for_features_with_an_slo() -> None:
    lags = feature_lags(VIEW, None, NOW)
    assert [lag.lag_seconds for lag in lags] == [None, None, None]
    assert [lag.ok for lag in lags] == [False, False, True]
    assert fresh_condition(lags).reason == "NotMaterialized"


@pytest.mark.parametrize(
    ("last_run", "due"),
    [(None, True), (NOW - dt.timedelta(seconds=59), False), (NOW - dt.timedelta(seconds=60), True)],
    ids=["never-ran", "within-interval", "interval-passed"],
)
def test_materialization_is_due_once_the_interval_has_passed(
    last_run: dt.datetime | None, due: bool
) -> None:
    assert is_due(last_run, dt.timedelta(minutes=1), NOW) is due


def test_watermarks_only_move_forward() -> None:
    earlier = NOW - dt.timedelta(hours=1)
    assert advance(NOW, earlier) == NOW
    assert advance(earlier, NOW) == NOW
    assert advance(None, earlier) == earlier
    assert advance(NOW, None) == NOW
