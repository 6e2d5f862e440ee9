from __future__ import annotations

import datetime as dt

from paved.api.meta import Condition, Status
from paved.core.conditions import Observation, flipped, report, set_condition

T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
T1 = T0 + dt.timedelta(minutes=5)
READY = Observation("Ready", "True", "Materialized", "1,000 rows online")
NOT_READY = Observation("Ready", "False", "SourceMissing", "no Parquet file matches")


def test_a_new_condition_transitions_now() -> None:
    (ready,) = set_condition([], READY, generation=1, now=T0)
    assert (ready.status, ready.reason, ready.last_transition_time) == ("True", "Materialized", T0)
    assert ready.observed_generation == 1


def test_transition_time_is_kept_while_the_status_holds() -> None:
    first = set_condition([], READY, generation=1, now=T0)
    (again,) = set_condition(
        first, Observation("Ready", "True", "Materialized", "2,000"), generation=2, now=T1
    )
    assert again.last_transition_time == T0
    assert again.message == "2,000"
    assert again.observed_generation == 2


def test_transition_time_moves_when_the_status_flips() -> None:
    (broken,) = set_condition(
        set_condition([], READY, generation=1, now=T0), NOT_READY, generation=1, now=T1
    )
    assert (broken.status, broken.last_transition_time) == ("False", T1)


def test_other_conditions_are_left_alone_and_kept_in_order() -> None:
    fresh = Condition(type="Fresh", status="True", reason="WithinSlo", last_transition_time=T0)
    updated = set_condition([fresh], READY, generation=1, now=T1)
    assert [c.type for c in updated] == ["Fresh", "Ready"]
    assert updated[0] == fresh


def test_report_sets_observed_generation_and_flipped_lists_changes() -> None:
    before = Status(
        conditions=set_condition([], READY, generation=1, now=T0), observed_generation=1
    )
    after = report(before, [NOT_READY], generation=3, now=T1)
    assert after.observed_generation == 3
    assert [c.reason for c in flipped(before.conditions, after.conditions)] == ["SourceMissing"]
    assert (
        flipped(after.conditions, report(after, [NOT_READY], generation=3, now=T1).conditions) == []
    )
