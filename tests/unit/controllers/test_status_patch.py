"""Status is written as a merge patch: what went away must be sent as null to go away."""

from __future__ import annotations

import datetime as dt

from paved.api.rollout import Phase, RolloutStatus, TrafficSplit
from paved.controllers._kopf import status_patch

STARTED = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def test_a_field_that_went_away_is_sent_as_null() -> None:
    shadowing = TrafficSplit(baseline=100, candidate=0, shadow=True)
    before = RolloutStatus(
        phase=Phase.PROGRESSING, current_step=0, step_started_at=STARTED, traffic=shadowing
    )
    after = RolloutStatus(phase=Phase.PROGRESSING, current_step=1,
                          traffic=TrafficSplit(baseline=90, candidate=10))  # fmt: skip
    patch = status_patch(before, after)
    assert patch["stepStartedAt"] is None
    assert patch["currentStep"] == 1
    assert patch["traffic"] == {"baseline": 90, "candidate": 10, "shadow": False}


def test_fields_never_set_are_left_out() -> None:
    patch = status_patch(RolloutStatus(), RolloutStatus(phase=Phase.PENDING))
    assert patch["phase"] == "Pending"
    assert None not in patch.values()
