"""The Rollout handler at an interleave step, through `_kopf`'s adapter with scripted ports: it
reads the candidate's wins, losses and ties through the router's metric observer, judges them
with the sequential test, writes the evidence in `status.interleaving` and acts as the step's
policy says (a backend that cannot interleave: `test_rollout_backends.py`)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from paved.api.crds import ROLLOUT
from paved.api.rollout import RolloutPhase, RolloutStatus, TrafficSplit
from paved.controllers.rollout import progress_rollout
from paved.core.rollout_steps import Traffic
from tests.support.adapter import Event, Kopf, body, recorded_events
from tests.support.scripted_ports import Metrics, Router, indices, scripted_ports

__all__ = ["recorded_events"]

SPEC = {
    "candidate": "ranker-v2",
    "target": {"seldonDeployment": {"name": "search"}},
    "steps": [{"interleave": {"minimumDetectablePreference": 0.05}}, {"full": {}}],
    "analysis": {"interval": "30s", "window": "1m", "minSamples": 50},
}
INTERLEAVING = RolloutStatus(
    phase=RolloutPhase.PROGRESSING,
    current_step=0,
    current_step_kind="interleave",
    step_started_at=dt.datetime(2026, 11, 27, tzinfo=dt.UTC),
    traffic=TrafficSplit(baseline=50, candidate=50, interleaved=True),
).model_dump(by_alias=True, mode="json", exclude_none=True)
CANDIDATE = {
    "spec": {"model": "ranker", "approval": {"required": False}},
    "status": {
        "phase": "Staging",
        "registry": {"name": "ranker", "version": "2", "uri": "models:/ranker/2"},
    },
}
COUNTS = {"win": 250.0, "loss": 330.0, "tie": 400.0}


def _counted(query: str) -> float | None:
    """The scripted router's `interleaved(<outcome>)` queries read COUNTS."""
    return next((n for outcome, n in COUNTS.items() if f"interleaved({outcome})" in query), None)


async def test_a_losing_ranker_is_rolled_back_with_its_record_in_the_status(
    recorded_events: list[Event], tmp_path: Path
) -> None:
    ports = scripted_ports(str(tmp_path), Metrics(_counted))
    router = ports.routers
    assert isinstance(router, Router)
    router.traffic = Traffic(50, 50, interleaved=True)
    outcome = await Kopf(ROLLOUT, progress_rollout, ports, recorded_events).call(
        body(ROLLOUT, SPEC, INTERLEAVING), indices=indices(("ModelVersion", "ranker-v2", CANDIDATE))
    )
    assert outcome.error is None
    written = RolloutStatus.model_validate(outcome.patch["status"])
    assert written.phase == "RolledBack"
    assert router.traffic == Traffic(100, 0)
    record = written.interleaving
    assert record is not None
    assert (record.outcome, record.wins, record.losses, record.ties) == ("loss", 250, 330, 400)
    assert record.high < 0.5
    progressing = outcome.condition("Progressing")
    assert progressing is not None
    assert progressing["reason"] == "InterleavingLoss"
