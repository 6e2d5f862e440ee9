"""Freshness SLOs per feature and when materialization is due.

Pure: callers pass `now` and the newest event time that is online (the event watermark).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from paved.core.conditions import Observation
from paved.core.feature_views import ViewDefinition
from paved.core.reasons import FeatureViewReason

FRESH: Final = "Fresh"


@dataclass(frozen=True)
class FeatureLag:
    feature: str
    lag_seconds: float | None  # None: nothing is online yet
    slo_seconds: float | None  # None: the feature has no freshness SLO
    ok: bool


def feature_lags(
    view: ViewDefinition, newest_online_event: dt.datetime | None, now: dt.datetime
) -> list[FeatureLag]:
    """How far behind `now` each feature's online value is, against its SLO."""
    lag = None if newest_online_event is None else (now - newest_online_event).total_seconds()
    lags = []
    for feature in view.features:
        slo = feature.freshness.total_seconds() if feature.freshness is not None else None
        ok = slo is None or (lag is not None and lag <= slo)
        lags.append(FeatureLag(feature.name, lag, slo, ok))
    return lags


def summary(lags: Sequence[FeatureLag]) -> str:
    """For `kubectl get`: 'fresh', or how many features are stale."""
    stale = sum(not lag.ok for lag in lags)
    return "fresh" if stale == 0 else f"{stale}/{len(lags)} stale"


def fresh_condition(lags: Sequence[FeatureLag]) -> Observation:
    stale = [lag for lag in lags if not lag.ok]
    if not stale:
        return Observation(
            FRESH,
            "True",
            FeatureViewReason.WITHIN_SLO,
            "Every feature is within its freshness SLO.",
        )
    if all(lag.lag_seconds is None for lag in stale):
        names = ", ".join(lag.feature for lag in stale)
        return Observation(
            FRESH, "False", FeatureViewReason.NOT_MATERIALIZED, f"Nothing online yet for {names}."
        )
    details = ", ".join(
        f"{lag.feature} {lag.lag_seconds:.0f}s > {lag.slo_seconds:.0f}s"
        for lag in stale
        if lag.lag_seconds is not None and lag.slo_seconds is not None
    )
    return Observation(
        FRESH, "False", FeatureViewReason.SLO_BREACHED, f"Stale features (lag > SLO): {details}."
    )


def is_due(last_run_at: dt.datetime | None, interval: dt.timedelta, now: dt.datetime) -> bool:
    return last_run_at is None or now - last_run_at >= interval


def advance(current: dt.datetime | None, seen: dt.datetime | None) -> dt.datetime | None:
    """A watermark only moves forward."""
    if seen is None:
        return current
    return seen if current is None or seen > current else current
