"""The Rollout handler at an interleave step, through `_kopf`'s adapter with scripted ports: it
reads the candidate's wins, losses and ties through the router's metric observer, judges them
with the sequential test, writes the evidence in `status.interleaving` and acts as the step's
policy says; on a backend that cannot interleave, nothing moves."""

from __future__ import annotations

from pathlib import Path

from paved.api.crds import ROLLOUT
from paved.api.rollout import Backend, RolloutStatus
from paved.controllers.rollout import progress_rollout
from paved.core.rollout_steps import Traffic
from paved.core.serving import Capability
from tests.support.adapter import Event, Kopf, body, recorded_events
from tests.support.scripted_ports import Metrics, Router, indices, scripted_ports

__all__ = ["recorded_events"]

SPEC = {
    "candidate": "ranker-v2",
    "target": {"seldonDeployment": {"name": "search"}},
    "steps": [{"interleave": {"minimumDetectablePreference": 0.05}}, {"full": {}}],
    "analysis": {"interval": "30s", "window": "1m", "minSamples": 50},
}
INTERLEAVING = {
    "phase": "Progressing",
    "currentStep": 0,
    "currentStepKind": "interleave",
    "stepStartedAt": "2026-11-27T00:00:00Z",
    "traffic": {"baseline": 50, "candidate": 50, "interleaved": True},
}
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


async def test_an_interleave_step_on_a_backend_that_cannot_interleave_moves_nothing(
    recorded_events: list[Event], tmp_path: Path
) -> None:
    ports = scripted_ports(str(tmp_path))
    router = ports.routers
    assert isinstance(router, Router)
    router.backend = Backend.INFERENCE_SERVICE
    router.capabilities = frozenset({Capability.CANARY})
    router.described = "InferenceService search"
    outcome = await Kopf(ROLLOUT, progress_rollout, ports, recorded_events).call(
        body(ROLLOUT, SPEC, {}), indices=indices(("ModelVersion", "ranker-v2", CANDIDATE))
    )
    progressing = outcome.condition("Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("False", "StepNotSupported")
    assert progressing["message"].startswith(
        "Step 1/2 (interleave) needs interleave, which InferenceService does not offer"
    )
    assert router.traffic == Traffic(100, 0)
    assert outcome.patch["status"]["phase"] == "Pending"
