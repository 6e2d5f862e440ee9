"""Status is written as a merge patch: what went away must be sent as null to go away."""

from __future__ import annotations

import datetime as dt

import kopf

from paved.api.rollout import RolloutPhase, RolloutStatus, TrafficSplit
from paved.controllers._kopf import _as_written, _write, status_patch

STARTED = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def test_a_field_that_went_away_is_sent_as_null() -> None:
    shadowing = TrafficSplit(baseline=100, candidate=0, shadow=True)
    before = RolloutStatus(
        phase=RolloutPhase.PROGRESSING, current_step=0, step_started_at=STARTED, traffic=shadowing
    )
    after = RolloutStatus(
        phase=RolloutPhase.PROGRESSING,
        current_step=1,
        traffic=TrafficSplit(baseline=90, candidate=10),
    )
    patch = status_patch(before, after)
    assert patch["stepStartedAt"] is None
    assert patch["currentStep"] == 1
    assert patch["traffic"] == {"baseline": 90, "candidate": 10, "shadow": False}


def test_fields_never_set_are_left_out() -> None:
    patch = status_patch(RolloutStatus(), RolloutStatus(phase=RolloutPhase.PENDING))
    assert patch["phase"] == "Pending"
    assert None not in patch.values()


def _body(resource_version: str, status: dict[str, object]) -> kopf.Body:
    metadata = {"name": "r", "namespace": "n", "resourceVersion": resource_version}
    return kopf.Body({"metadata": metadata, "status": status})


def test_a_write_the_watch_has_not_delivered_yet_is_what_the_next_tick_starts_from() -> None:
    memo, stale = kopf.Memo(), _body("7", {})
    seen = RolloutStatus()
    written = RolloutStatus(phase=RolloutPhase.PROGRESSING, current_step=1, step_started_at=STARTED)
    _write(stale, kopf.Patch(), memo, seen, seen, written)
    # kopf still hands the timer the body of resourceVersion 7: the status is the one written.
    assert _as_written(seen, stale, memo) == written
    # Once the watch delivers a newer version, the body is the truth again.
    delivered = RolloutStatus(phase=RolloutPhase.PROGRESSING, current_step=1)
    assert _as_written(delivered, _body("8", {"currentStep": 1}), memo) == delivered


def test_a_patch_also_carries_what_an_undelivered_write_changed() -> None:
    seen = RolloutStatus(phase=RolloutPhase.PENDING)
    written = RolloutStatus(phase=RolloutPhase.PROGRESSING, current_step=0, step_started_at=STARTED)
    after = RolloutStatus(phase=RolloutPhase.PROGRESSING, current_step=1)
    patch = kopf.Patch()
    _write(_body("7", {"phase": "Pending"}), patch, kopf.Memo(), seen, written, after)
    assert patch["status"]["phase"] == "Progressing"
    assert patch["status"]["currentStep"] == 1
    assert patch["status"]["stepStartedAt"] is None  # went away since the undelivered write


def test_a_field_that_went_away_inside_an_object_is_sent_as_null_too() -> None:
    interleaved = TrafficSplit(baseline=50, candidate=50, interleaved=True)
    before = RolloutStatus(phase=RolloutPhase.PROGRESSING, current_step=0, traffic=interleaved)
    after = RolloutStatus(
        phase=RolloutPhase.ROLLED_BACK,
        current_step=0,
        traffic=TrafficSplit(baseline=100, candidate=0),
    )
    patch = status_patch(before, after)
    assert patch["traffic"] == {
        "baseline": 100,
        "candidate": 0,
        "shadow": False,
        "interleaved": None,
    }
