"""A finished Rollout asked to revert (`paved model revert`) serves the version its candidate
replaced on the target's baseline and makes it production again, through `_kopf`'s adapter
with scripted ports; the registry records why on both versions, and the request acts once."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from paved.api.crds import ROLLOUT
from paved.api.model_version import Stage
from paved.controllers.rollout import progress_rollout
from paved.core.model_versions import RegisteredVersion
from paved.core.registry_memory import REPLACED_TAG, RESTORED_TAG, REVERTED_TAG
from paved.core.serving import ServedModel
from tests.support.adapter import Event, Kopf, Outcome, body, recorded_events
from tests.support.scripted_ports import Metrics, Registry, Router, indices, scripted_ports

__all__ = ["recorded_events"]

SPEC = {
    "candidate": "churn-v2",
    "target": {"seldonDeployment": {"name": "churn"}},
    "steps": [{"canary": {"weight": 10, "duration": "1m"}}, {"full": {}}],
}
CANDIDATE = {
    "spec": {"model": "churn"},
    "status": {
        "phase": "Production",
        "registry": {"name": "ml.churn", "version": "2", "uri": "models:/ml.churn/2"},
    },
}
SUCCEEDED = {"phase": "Succeeded", "currentStep": 1}
ASKED = "AUC fell (requested 2026-12-05T06:00:00+00:00)"


@dataclass
class Production(Registry):
    """Stages as MLflow keeps them: one production version, the previous one archived."""

    async def in_stage(self, _model: str, stage: Stage) -> RegisteredVersion | None:
        return next((v for v in self.versions.values() if v.stage is stage), None)

    async def set_stage(self, model: str, version: str, stage: Stage) -> None:
        holder = await self.in_stage(model, stage)
        if stage is Stage.PRODUCTION and holder is not None and holder.version != version:
            await super().set_stage(model, holder.version, Stage.ARCHIVED)
        await super().set_stage(model, version, stage)


@dataclass
class Serving(Router):
    served: list[ServedModel] = field(default_factory=list)

    async def promote(self, candidate: ServedModel) -> None:
        self.served.append(candidate)


def _version(number: str, stage: Stage, **tags: str) -> RegisteredVersion:
    return RegisteredVersion(
        "ml.churn", number, f"r{number}", f"s3://paved/mlflow/1/models/m-{number}", stage, tags
    )


def _rollout(annotations: dict[str, str]) -> dict[str, object]:
    found = body(ROLLOUT, SPEC, SUCCEEDED)
    found["metadata"]["annotations"] = annotations  # type: ignore[index]
    return found


async def _revert(
    registry: Production, router: Serving, tmp_path: Path, events: list[Event]
) -> Outcome:
    """A Succeeded Rollout of churn-v2, asked to revert, through one tick of its timer."""
    ports = replace(scripted_ports(str(tmp_path)), registry=registry, routers=router)
    return await Kopf(ROLLOUT, progress_rollout, ports, events).call(
        _rollout({"paved.dev/revert": ASKED}),
        indices=indices(("ModelVersion", "churn-v2", CANDIDATE)),
    )


async def test_a_revert_serves_the_previous_version_and_the_registry_says_why(
    recorded_events: list[Event], tmp_path: Path
) -> None:
    registry = Production(
        {
            "k1": _version("1", Stage.ARCHIVED),
            "k2": _version("2", Stage.PRODUCTION, **{REPLACED_TAG: "1"}),
        }
    )
    router = Serving()

    outcome = await _revert(registry, router, tmp_path, recorded_events)

    assert outcome.error is None
    # The previous version's storage URI, with its registry version beside it.
    assert router.served == [ServedModel("s3://paved/mlflow/1/models/m-1", "ml.churn", "1")]
    assert registry.versions["k1"].stage is Stage.PRODUCTION
    assert registry.versions["k2"].stage is Stage.ARCHIVED
    reverted = json.loads(registry.versions["k2"].tags[REVERTED_TAG])
    assert (reverted["reason"], reverted["restoredVersion"]) == (ASKED, "1")
    assert json.loads(registry.versions["k1"].tags[RESTORED_TAG])["replacing"] == "2"
    progressing = outcome.condition("Progressing")
    assert progressing is not None
    assert (progressing["status"], progressing["reason"]) == ("False", "Reverted")
    status = outcome.patch["status"]
    assert (status["phase"], status["reverted"]) == ("RolledBack", ASKED)
    assert status["traffic"] == {"baseline": 100, "candidate": 0, "shadow": False}


async def test_a_revert_with_nothing_to_go_back_to_is_refused_and_moves_nothing(
    recorded_events: list[Event], tmp_path: Path
) -> None:
    registry = Production({"k2": _version("2", Stage.PRODUCTION)})
    router = Serving()

    outcome = await _revert(registry, router, tmp_path, recorded_events)

    assert router.served == []
    assert registry.versions["k2"].stage is Stage.PRODUCTION
    progressing = outcome.condition("Progressing")
    assert progressing is not None
    assert progressing["reason"] == "RevertRefused"
    assert outcome.patch["status"]["phase"] == "Succeeded"
    assert outcome.patch["status"]["reverted"] == ASKED  # consumed: it does not act again


async def test_a_guardrail_rollback_leaves_its_readings_on_the_candidates_version(
    recorded_events: list[Event], tmp_path: Path
) -> None:
    registry = Production({"k2": _version("2", Stage.STAGING)})
    metrics = Metrics(reading=lambda query: 100.0 if "requests(" in query else 0.2)
    ports = replace(scripted_ports(str(tmp_path), metrics), registry=registry)
    guarded = {
        **SPEC,
        "guardrails": [{"builtin": "errorRate", "max": 0.05}],
        "analysis": {"interval": "10s", "minSamples": 5, "failureLimit": 0},
    }
    rolling = body(ROLLOUT, guarded, {"phase": "Progressing", "currentStep": 0})

    outcome = await Kopf(ROLLOUT, progress_rollout, ports, recorded_events).call(
        rolling, indices=indices(("ModelVersion", "churn-v2", CANDIDATE))
    )

    assert outcome.patch["status"]["phase"] == "RolledBack"
    recorded = json.loads(registry.versions["k2"].tags["paved.rollout.subject"])
    assert (recorded["outcome"], recorded["reason"]) == ("RolledBack", "GuardrailBreached")
    assert recorded["guardrails"][0]["guardrail"] == "errorRate"
    assert recorded["guardrails"][0]["value"] == 0.2
    assert recorded["abTest"] is None
