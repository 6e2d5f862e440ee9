"""A ModelMonitor's feature checks: freshness counted per served entity (not the view's newest
event), and training/serving skew between what a model saw and the offline store's
point-in-time values for the same entity at the same moment."""

from __future__ import annotations

import datetime as dt

import pytest

from paved.api.model_monitor import Freshness, Skew
from paved.core.monitor_checks import Check, CheckState, LoggedWindow
from paved.core.monitor_features import (
    EntityRead,
    SkewSample,
    Staleness,
    equal,
    freshness,
    keyed,
    sample_indices,
    served_entities,
    skew,
    staleness,
)
from paved.core.online_values import ValueStatus
from paved.core.reasons import MonitorReason as Reason

NOW = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)
PRESENT = (ValueStatus.PRESENT, ValueStatus.PRESENT)


def _read(
    entity: int, *, age: dt.timedelta, statuses: tuple[ValueStatus, ...] = PRESENT
) -> EntityRead:
    return EntityRead(f'{{"user_id":{entity}}}', statuses, (NOW - age,))


def test_an_entity_is_stale_past_an_slo_or_max_age_and_missing_without_a_row() -> None:
    hour = dt.timedelta(hours=1)
    fresh = _read(1, age=hour)
    past_slo = _read(2, age=hour, statuses=(ValueStatus.PRESENT, ValueStatus.STALE))
    expired = _read(3, age=hour, statuses=(ValueStatus.EXPIRED, ValueStatus.EXPIRED))
    old = _read(4, age=3 * hour)
    never = EntityRead("5", (ValueStatus.NOT_FOUND,) * 2, (None,))

    found = [
        staleness(r, now=NOW, max_age=2 * hour) for r in (fresh, past_slo, expired, old, never)
    ]

    assert found == [
        Staleness.FRESH,
        Staleness.STALE,
        Staleness.STALE,
        Staleness.STALE,
        Staleness.MISSING,
    ]
    assert staleness(old, now=NOW, max_age=None) is Staleness.FRESH  # no maxAge: the SLOs judge


def test_a_few_stale_entities_among_fresh_ones_alarm_past_the_fraction() -> None:
    minute = dt.timedelta(minutes=1)
    reads = [_read(n, age=minute) for n in range(97)]
    reads += [_read(97 + n, age=dt.timedelta(days=2)) for n in range(2)]
    reads.append(EntityRead("never", (ValueStatus.NOT_FOUND,) * 2, (None,)))

    verdict = freshness(
        reads, spec=Freshness(max_stale_fraction=0.02), max_age=dt.timedelta(hours=1), now=NOW
    )

    assert (verdict.check, verdict.state, verdict.reason) == (
        Check.FRESHNESS,
        CheckState.ALARM,
        Reason.FEATURES_STALE,
    )
    assert (verdict.value, verdict.samples) == (0.03, 100)
    assert verdict.message == (
        "3 of 100 served entities have stale features (2 past a ttl, freshness SLO or maxAge;"
        " 1 with none online): 3.00% > 2.00%; the oldest row online is 2d old."
    )
    calm = freshness(
        reads, spec=Freshness(max_stale_fraction=0.05), max_age=dt.timedelta(hours=1), now=NOW
    )
    assert (calm.state, calm.reason) == (CheckState.OK, Reason.FEATURES_FRESH)


def test_no_entity_served_is_unknown_never_fresh() -> None:
    verdict = freshness([], spec=Freshness(), max_age=None, now=NOW)

    assert (verdict.state, verdict.reason) == (CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES)


def test_the_entities_judged_are_the_most_recently_served_each_once() -> None:
    at = [NOW - dt.timedelta(minutes=m) for m in (5, 1, 3, 2)]
    logged = LoggedWindow([0.1] * 4, entities=["a", "b", "a", "c"], served_at=at)

    assert served_entities(logged) == ["b", "c", "a"]


def test_values_are_equal_within_the_tolerance_and_by_instant() -> None:
    assert equal(1.0, 1.0 + 1e-9, tolerance=1e-6)
    assert not equal(1.0, 1.001, tolerance=1e-6)
    assert equal(float("nan"), float("nan"), tolerance=0)
    assert not equal(None, 0, tolerance=1)
    assert equal("2026-12-06T12:00:00+00:00", NOW, tolerance=0)
    assert equal(7, 7.0, tolerance=0)
    assert not equal(True, 1, tolerance=0)
    assert equal("DE", "DE", tolerance=0)
    assert not equal("DE", "FR", tolerance=0)


def _samples(*, differing: int, total: int) -> list[SkewSample]:
    return [
        SkewSample(
            f'{{"user_id":{n}}}',
            NOW,
            {"clicks_7d": float(n), "country": "DE"},
            {"clicks_7d": float(n) + (1.0 if n < differing else 0.0), "country": "DE"},
        )
        for n in range(total)
    ]


def test_a_feature_the_offline_store_gives_back_differently_is_skew() -> None:
    verdict = skew(
        _samples(differing=30, total=1000),
        features=["clicks_7d", "country"],
        spec=Skew(max_mismatch_rate=0.01),
    )

    assert (verdict.check, verdict.state, verdict.reason) == (
        Check.SKEW,
        CheckState.ALARM,
        Reason.SKEW_DETECTED,
    )
    assert verdict.message.startswith(
        "1 of 2 features skewed (1000 sampled predictions): clicks_7d differs in 30 of 1000"
        ' (3.00% > 1.00%). E.g. {"user_id":0} at 2026-12-06T12:00:00+00:00: clicks_7d served'
        " 0.0, offline 1.0."
    )
    rates = {r.feature: (r.mismatch_rate, r.compared) for r in verdict.skew}
    assert rates == {"clicks_7d": (0.03, 1000), "country": (0.0, 1000)}


def test_a_rare_mismatch_under_the_rate_is_no_skew() -> None:
    verdict = skew(
        _samples(differing=5, total=1000), features=["clicks_7d"], spec=Skew(max_mismatch_rate=0.01)
    )

    assert (verdict.state, verdict.reason, verdict.value) == (CheckState.OK, Reason.NO_SKEW, 0.005)


def test_a_feature_no_request_carried_is_not_judged() -> None:
    samples = [SkewSample("e", NOW, {}, {"clicks_7d": 1.0})]

    verdict = skew(samples, features=["clicks_7d"], spec=Skew())

    assert (verdict.state, verdict.reason) == (CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES)


@pytest.mark.parametrize(
    ("total", "size", "expected"), [(3, 5, [0, 1, 2]), (10, 3, [0, 4, 9]), (5, 1, [0])]
)
def test_a_sample_spreads_over_the_window(total: int, size: int, expected: list[int]) -> None:
    assert sample_indices(total, size) == expected


def test_only_entities_that_name_every_join_key_are_looked_up() -> None:
    logged = ['{"user_id":1}', "{}", '{"user_id":null}', '{"user_id":2,"shop":"a"}', "not json"]

    assert keyed(logged, {"user_id"}) == [
        ('{"user_id":1}', {"user_id": 1}),
        ('{"user_id":2,"shop":"a"}', {"user_id": 2, "shop": "a"}),
    ]
    assert keyed(logged, {"user_id", "shop"}) == [
        ('{"user_id":2,"shop":"a"}', {"user_id": 2, "shop": "a"})
    ]
