"""A guardrail that reads +Inf used to freeze a Rollout: the handler rolled the deployment back,
then the API server refused the status patch (`Infinity` is not JSON), so the status stayed at
the shadow step. The Rollout handler, called through `_kopf`'s adapter with scripted ports."""

from __future__ import annotations

import json
import math
from pathlib import Path

from paved.api.crds import ROLLOUT
from paved.api.rollout import RolloutStatus
from paved.controllers.rollout import progress_rollout
from paved.core.rollout_steps import Traffic
from tests.support.adapter import Event, Kopf, body, recorded_events
from tests.support.scripted_ports import Metrics, Router, indices, scripted_ports

__all__ = ["recorded_events"]

SPEC = {
    "candidate": "churn-v2",
    "target": {"seldonDeployment": {"name": "churn"}},
    "steps": [{"shadow": {"duration": "10m"}}, {"full": {}}],
    "guardrails": [{"builtin": "errorRate", "max": 0.01}],
    "analysis": {"interval": "30s", "window": "1m", "minSamples": 50},
}
SHADOWING = {
    "phase": "Progressing",
    "currentStep": 0,
    "currentStepKind": "shadow",
    "stepStartedAt": "2026-11-27T00:00:00Z",
    "traffic": {"baseline": 100, "candidate": 0, "shadow": True},
}
REGISTERED = {"name": "churn", "version": "2", "uri": "models:/churn/2"}
CANDIDATE = {
    "spec": {"model": "churn", "approval": {"required": False}},
    "status": {"phase": "Staging", "registry": REGISTERED},
}


def _reads(value: float) -> Metrics:
    """The error rate reads `value`, on 500 requests."""
    return Metrics(lambda query: 500.0 if query.startswith("sum(increase(") else value)


async def _shadowing_rollout_reading(
    value: float, tmp_path: Path, events: list[Event]
) -> tuple[dict[str, object], Router]:
    ports = scripted_ports(str(tmp_path), _reads(value))
    router = ports.routers
    assert isinstance(router, Router)
    router.traffic = Traffic(100, 0, True)
    outcome = await Kopf(ROLLOUT, progress_rollout, ports, events).call(
        body(ROLLOUT, SPEC, SHADOWING), indices=indices(("ModelVersion", "churn-v2", CANDIDATE))
    )
    assert outcome.error is None
    return outcome.patch["status"], router


async def test_a_guardrail_reading_plus_infinity_rolls_back_and_the_status_says_so(
    recorded_events: list[Event], tmp_path: Path
) -> None:
    status, router = await _shadowing_rollout_reading(math.inf, tmp_path, recorded_events)

    assert router.traffic == Traffic(100, 0, False)
    json.dumps(status, allow_nan=False)  # what the API server takes: no Infinity, no NaN
    written = RolloutStatus.model_validate(status)
    assert written.phase == "RolledBack"
    (reading,) = written.analysis
    assert (reading.verdict, reading.value, reading.threshold) == ("breach", None, 0.01)
    assert reading.message == "errorRate read +Inf: above its limit 0.01, a breach"
    assert "errorRate read +Inf" in (written.message or "")


async def test_a_guardrail_reading_nan_is_no_data_and_holds(
    recorded_events: list[Event], tmp_path: Path
) -> None:
    status, router = await _shadowing_rollout_reading(math.nan, tmp_path, recorded_events)

    assert router.traffic == Traffic(100, 0, True)
    json.dumps(status, allow_nan=False)
    written = RolloutStatus.model_validate(status)
    assert written.phase == "Progressing"
    (reading,) = written.analysis
    assert (reading.verdict, reading.value) == ("noData", None)
