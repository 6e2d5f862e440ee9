"""Which online values a read serves, by their age: the view's ttl and each feature's freshness SLO.

Pure: ages are integer microseconds (the reader's `now` minus the value's event time), so the
online store judges with integer comparisons and never by its own clock. A value older than the
view's ttl is EXPIRED and not served; within the tightest requested SLO every feature is
PRESENT; in between, each feature past its own SLO is STALE, served (`StalePolicy.MARK`) or
withheld as null (`StalePolicy.NULL`). Exactly at a limit still counts as within it.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from paved.api.feature_view import StalePolicy
from paved.core.feature_views import ViewDefinition

NO_LIMIT_US: Final = 1 << 62  # an age in microseconds that no value reaches
_MICROSECOND: Final = dt.timedelta(microseconds=1)


class ValueStatus(StrEnum):
    PRESENT = "present"
    NOT_FOUND = "notFound"  # nothing was ever written for this entity
    EXPIRED = "expired"  # older than the view's ttl: no value is returned
    STALE = "stale"  # older than the feature's freshness SLO: marked, or null by the view's policy


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a read returns for one stored value, per requested feature."""

    statuses: tuple[ValueStatus, ...]
    served: bool  # False: every requested value is None
    nulled: tuple[int, ...] = ()  # served, but these requested features' values become None


def micros(duration: dt.timedelta) -> int:
    return duration // _MICROSECOND


def retention_us(view: ViewDefinition) -> int | None:
    """How long after its event time the store keeps a value (None: for ever).

    Twice the ttl: for one more ttl, a read tells a value past its ttl (EXPIRED) from one never
    written (NOT_FOUND), and the store's expiry never decides the ttl boundary; the read does.
    """
    return None if view.ttl is None else 2 * micros(view.ttl)


@dataclass(frozen=True, slots=True)
class ServingRule:
    """How a read serves one view's values for a list of its features, worked out once.

    `judge` hands out verdicts made ahead (present, expired, not found) or on first use (one per
    number of distinct SLOs exceeded), so judging a value allocates nothing.
    """

    ttl_us: int
    fresh_for_us: int  # the tightest SLO among the requested features
    fresh_limit_us: int  # the oldest a value may be for every requested feature to be PRESENT
    slos_us: tuple[int, ...]  # the requested features' distinct SLOs, ascending
    slo_ranks: tuple[int, ...]  # per requested feature, its SLO's index in slos_us (or past it)
    stale_keeps_value: bool
    present: Verdict
    expired: Verdict
    not_found: Verdict
    _stale: dict[int, Verdict] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, view: ViewDefinition, features: Sequence[str]) -> ServingRule:
        """The rule for `features` of `view`, in that order; KeyError names any it lacks."""
        declared = {feature.name: feature for feature in view.features}
        missing = [name for name in features if name not in declared]
        if missing:
            raise KeyError(f"FeatureView {view.name} has no feature(s) {', '.join(missing)}")
        # A zero SLO counts: anything older than the event itself is stale.
        slos = [declared[name].freshness for name in features]
        slos_us = sorted({micros(slo) for slo in slos if slo is not None})
        rank_of = {slo_us: rank for rank, slo_us in enumerate(slos_us)}
        ttl_us = NO_LIMIT_US if view.ttl is None else micros(view.ttl)
        fresh_for_us = slos_us[0] if slos_us else NO_LIMIT_US
        width = len(features)
        return cls(
            ttl_us=ttl_us,
            fresh_for_us=fresh_for_us,
            fresh_limit_us=min(ttl_us, fresh_for_us),
            slos_us=tuple(slos_us),
            slo_ranks=tuple(len(slos_us) if s is None else rank_of[micros(s)] for s in slos),
            stale_keeps_value=view.stale_policy is StalePolicy.MARK,
            present=Verdict((ValueStatus.PRESENT,) * width, served=True),
            expired=Verdict((ValueStatus.EXPIRED,) * width, served=False),
            not_found=Verdict((ValueStatus.NOT_FOUND,) * width, served=False),
        )

    def judge(self, age_us: int) -> Verdict:
        """The verdict on a stored value `age_us` old."""
        if age_us > self.ttl_us:
            return self.expired
        if age_us <= self.fresh_for_us:
            return self.present
        exceeded = bisect_left(self.slos_us, age_us)  # how many SLOs are below the age
        verdict = self._stale.get(exceeded)
        if verdict is None:
            stale = [rank < exceeded for rank in self.slo_ranks]
            statuses = tuple(ValueStatus.STALE if s else ValueStatus.PRESENT for s in stale)
            nulled = () if self.stale_keeps_value else tuple(i for i, s in enumerate(stale) if s)
            # Concurrent reads may both fill this entry: with equal verdicts, so no lock.
            verdict = self._stale[exceeded] = Verdict(statuses, served=True, nulled=nulled)
        return verdict
