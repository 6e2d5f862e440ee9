"""The Rollout handler picks its router from the target, through `_kopf`'s adapter with scripted
ports: a backend the operator cannot route to, or a step the backend cannot do, is a condition on
the Rollout, and no traffic moves."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from paved.api.crds import ROLLOUT
from paved.api.rollout import Backend, Target
from paved.controllers.rollout import progress_rollout
from paved.core.rollout_steps import Traffic
from paved.core.serving import Capability
from paved.ports.traffic import TrafficRouter, Unroutable
from tests.support.adapter import Event, Kopf, body, recorded_events
from tests.support.scripted_ports import Router, indices, scripted_ports

__all__ = ["recorded_events"]

SPEC = {
    "candidate": "churn-v2",
    "target": {"inferenceService": {"name": "churn"}},
    "steps": [
        {"canary": {"weight": 10, "duration": "1m"}},
        {"abTest": {"minimumDetectableEffect": 0.05}},
        {"full": {}},
    ],
    "analysis": {"interval": "30s", "window": "1m", "minSamples": 50},
}
CANDIDATE = {
    "spec": {"model": "churn"},
    "status": {
        "phase": "Staging",
        "registry": {"name": "churn", "version": "2", "uri": "models:/churn/2"},
    },
}


@dataclass
class Uninstalled:
    async def router_for(self, _namespace: str, target: Target) -> TrafficRouter | Unroutable:
        return Unroutable("BackendNotInstalled", f"The cluster does not serve {target.backend}.")


async def test_a_backend_the_cluster_does_not_serve_is_a_condition_not_a_crash(
    recorded_events: list[Event], tmp_path: Path
) -> None:
    ports = replace(scripted_ports(str(tmp_path)), routers=Uninstalled())
    outcome = await Kopf(ROLLOUT, progress_rollout, ports, recorded_events).call(
        body(ROLLOUT, SPEC, {}), indices=indices(("ModelVersion", "churn-v2", CANDIDATE))
    )
    assert outcome.error is None
    progressing = outcome.condition("Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("False", "BackendNotInstalled")
    assert progressing["message"] == "The cluster does not serve InferenceService."
    assert outcome.patch["status"]["phase"] == "Pending"


@pytest.mark.parametrize(
    ("steps", "refused"),
    [
        (SPEC["steps"], "Step 2/3 (abTest) needs perArmFeedback, which InferenceService does not"),
        (
            [{"interleave": {"minimumDetectablePreference": 0.05}}, {"full": {}}],
            "Step 1/2 (interleave) needs interleave, which InferenceService does not offer",
        ),
    ],
)
async def test_a_step_the_backend_cannot_do_is_refused_before_any_traffic_moves(
    recorded_events: list[Event], tmp_path: Path, steps: list[dict[str, Any]], refused: str
) -> None:
    ports = scripted_ports(str(tmp_path))
    router = ports.routers
    assert isinstance(router, Router)
    router.backend = Backend.INFERENCE_SERVICE
    router.capabilities = frozenset({Capability.CANARY})
    router.described = "InferenceService churn"
    outcome = await Kopf(ROLLOUT, progress_rollout, ports, recorded_events).call(
        body(ROLLOUT, {**SPEC, "steps": steps}, {}),
        indices=indices(("ModelVersion", "churn-v2", CANDIDATE)),
    )
    progressing = outcome.condition("Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("False", "StepNotSupported")
    assert progressing["message"].startswith(refused)
    assert router.traffic == Traffic(100, 0, False)  # nothing applied
    assert outcome.patch["status"]["phase"] == "Pending"
