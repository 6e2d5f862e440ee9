"""The online value rule: which stored values a read serves, by age, ttl and freshness SLOs."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paved.api.feature_view import DataType, StalePolicy
from paved.core.feature_views import FeatureDefinition, ViewDefinition
from paved.core.online_values import ServingRule, ValueStatus, retention_us

SECOND_US = 1_000_000
PRESENT, STALE, EXPIRED = ValueStatus.PRESENT, ValueStatus.STALE, ValueStatus.EXPIRED


# clicks fresh for 10 s, country for 60 s, segment without an SLO.
FEATURES = (
    FeatureDefinition("clicks", DataType.INT64, freshness=dt.timedelta(seconds=10)),
    FeatureDefinition("country", DataType.STRING, freshness=dt.timedelta(seconds=60)),
    FeatureDefinition("segment", DataType.STRING),
)


def view(
    *, ttl: dt.timedelta | None = None, stale_policy: StalePolicy = StalePolicy.MARK
) -> ViewDefinition:
    # Only the ttl, the features and the stale policy count for the rule.
    where = {"source": "/data/*.parquet", "data_root": "/data", "timestamp_field": "ts"}
    return ViewDefinition(
        namespace="team-a",
        name="user-activity",
        version="abc",
        join_keys=("user_id",),
        created_timestamp_field=None,
        ttl=ttl,
        features=FEATURES,
        stale_policy=stale_policy,
        **where,
    )


ALL = ("clicks", "country", "segment")


def test_a_value_exactly_at_the_ttl_is_served_and_one_microsecond_later_is_expired() -> None:
    rule = ServingRule.of(view(ttl=dt.timedelta(hours=1)), ("segment",))
    at_ttl = rule.judge(3600 * SECOND_US)
    assert (at_ttl.statuses, at_ttl.served) == ((PRESENT,), True)
    past = rule.judge(3600 * SECOND_US + 1)
    assert (past.statuses, past.served) == ((EXPIRED,), False)


def test_without_a_ttl_no_value_expires() -> None:
    rule = ServingRule.of(view(), ("segment",))
    assert rule.judge(100 * 365 * 86400 * SECOND_US).statuses == (PRESENT,)


def test_each_feature_goes_stale_past_its_own_slo_in_request_order() -> None:
    rule = ServingRule.of(view(), ("segment", "country", "clicks"))
    assert rule.judge(10 * SECOND_US).statuses == (PRESENT, PRESENT, PRESENT)
    assert rule.judge(10 * SECOND_US + 1).statuses == (PRESENT, PRESENT, STALE)
    assert rule.judge(61 * SECOND_US).statuses == (PRESENT, STALE, STALE)


def test_stale_values_are_served_marked_or_withheld_by_the_views_policy() -> None:
    marked = ServingRule.of(view(stale_policy=StalePolicy.MARK), ALL).judge(30 * SECOND_US)
    assert (marked.served, marked.nulled) == (True, ())
    nulled = ServingRule.of(view(stale_policy=StalePolicy.NULL), ALL).judge(61 * SECOND_US)
    assert (nulled.served, nulled.nulled) == (True, (0, 1))  # segment, without an SLO, stays


def test_expiry_wins_over_staleness() -> None:
    rule = ServingRule.of(view(ttl=dt.timedelta(seconds=30)), ALL)
    assert rule.judge(31 * SECOND_US).statuses == (EXPIRED, EXPIRED, EXPIRED)


def test_a_zero_slo_makes_anything_older_than_its_event_stale() -> None:
    zero = replace(
        view(), features=(FeatureDefinition("x", DataType.BOOL, freshness=dt.timedelta(0)),)
    )
    rule = ServingRule.of(zero, ("x",))
    assert rule.judge(0).statuses == (PRESENT,)
    assert rule.judge(1).statuses == (STALE,)


def test_a_request_for_features_the_view_lacks_names_them() -> None:
    with pytest.raises(KeyError, match="user-activity has no feature\\(s\\) age, city"):
        ServingRule.of(view(), ("clicks", "age", "city"))


def test_a_value_is_kept_one_ttl_past_its_ttl_so_reads_can_say_expired() -> None:
    assert retention_us(view(ttl=dt.timedelta(minutes=5))) == 600 * SECOND_US
    assert retention_us(view()) is None


@given(
    age_us=st.integers(min_value=0, max_value=200 * SECOND_US),
    ttl_s=st.one_of(st.none(), st.integers(min_value=0, max_value=120)),
    policy=st.sampled_from(StalePolicy),
)
def test_every_feature_is_present_exactly_up_to_the_fresh_limit(
    age_us: int, ttl_s: int | None, policy: StalePolicy
) -> None:
    """The store decodes a row in one go below `fresh_limit_us`: that must agree with `judge`."""
    ttl = None if ttl_s is None else dt.timedelta(seconds=ttl_s)
    rule = ServingRule.of(view(ttl=ttl, stale_policy=policy), ALL)
    verdict = rule.judge(age_us)
    all_present = verdict.statuses == (PRESENT,) * len(ALL)
    assert all_present == (age_us <= rule.fresh_limit_us)
    assert verdict.served == (EXPIRED not in verdict.statuses)
    stale = {i for i, status in enumerate(verdict.statuses) if status is STALE}
    assert set(verdict.nulled) == (stale if policy is StalePolicy.NULL else set())
