"""The ModelVersion handler carries the core's steps out through the ports, tick after tick, with
an in-memory registry."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, cast

import pytest

from paved.api.crds import BATCH_PREDICTION, MODEL_VERSION, PROMOTION_POLICY, ROLLOUT
from paved.api.model_version import ModelVersionPhase, ModelVersionSpec, Stage
from paved.controllers._kopf import parsed
from paved.core.model_versions import (
    APPROVED_BY_TAG,
    PipelineRun,
    RegisteredVersion,
    RunState,
    run_key,
)
from paved.errors import PermanentError
from paved.ports.registry import RegistryUnavailableError
from tests.support.model_versions import SPEC, World, outcome
from tests.support.training import example

KEY = run_key("uid-1", SPEC, namespace="ml")


class Registry:
    def __init__(self) -> None:
        self.versions: dict[str, RegisteredVersion] = {}
        self.creates = 0
        self.down = False
        self.ignores_sign_offs = False
        self.outcomes: dict[str, str] = {}  # run key → the outcome the run logged to MLflow
        self.models: set[str] = set()  # every model name it was asked about
        self.production: RegisteredVersion | None = None

    def _reachable(self, model: str) -> None:
        self.models.add(model)
        if self.down:
            raise RegistryUnavailableError("MLflow at http://mlflow cannot be reached", 20)

    async def register(
        self, model: str, run_id: str, key: str, tags: Mapping[str, str]
    ) -> RegisteredVersion:
        self._reachable(model)
        if key not in self.versions:
            self.creates += 1
            self.versions[key] = RegisteredVersion(
                model,
                str(self.creates),
                run_id,
                f"models:/{model}/{self.creates}",
                Stage.TRAINED,
                dict(tags),
            )
        return self.versions[key]

    async def find(self, model: str, key: str) -> RegisteredVersion | None:
        self._reachable(model)
        return self.versions.get(key)

    async def set_stage(self, model: str, version: str, stage: Stage) -> None:
        self._reachable(model)
        for key, found in self.versions.items():
            if found.version == version:
                self.versions[key] = replace(found, stage=stage)

    async def in_stage(self, model: str, stage: Stage) -> RegisteredVersion | None:
        self._reachable(model)
        return self.production if stage is Stage.PRODUCTION else None

    async def version(self, model: str, version: str) -> RegisteredVersion | None:
        self._reachable(model)
        return next((v for v in self.versions.values() if v.version == version), None)

    async def annotate(self, model: str, _version: str, _tags: Mapping[str, str]) -> None:
        self._reachable(model)

    async def record_sign_off(
        self, model: str, version: str, by: str, _at: str, _comment: str
    ) -> None:
        self._reachable(model)
        for key, found in self.versions.items():
            if found.version == version and not self.ignores_sign_offs:
                self.versions[key] = replace(found, tags={**found.tags, APPROVED_BY_TAG: by})

    async def training_outcome(self, model: str, run_key: str) -> str | None:
        self._reachable(model)
        return self.outcomes.get(run_key)


async def test_a_model_version_is_trained_evaluated_registered_once_and_staged() -> None:
    registry = Registry()
    world = World(registry)
    await world.tick()
    assert (world.status.phase, world.runner.starts) == (ModelVersionPhase.TRAINING, [KEY])

    world.runner.run = replace(world.runner.run, finished_tasks=frozenset({"prepare", "train"}))
    await world.tick()
    assert world.status.phase is ModelVersionPhase.EVALUATING

    world.runner.run = PipelineRun("run-1", RunState.SUCCEEDED, output=outcome("mlrun-1"))
    registry.down = True
    waiting = await world.tick()
    assert world.status.phase is ModelVersionPhase.EVALUATING
    assert world.condition("Trained")[:2] == ("Unknown", "RegistryUnavailable")
    assert waiting.retry_after_seconds == 20
    assert registry.creates == 0

    registry.down = False
    await world.tick()
    assert (world.status.phase, world.status.stage) == (ModelVersionPhase.STAGING, Stage.STAGING)
    assert world.condition("Trained")[:2] == ("True", "Registered")
    await world.tick()
    assert (registry.creates, world.runner.starts) == (1, [KEY])
    assert registry.versions[KEY].stage is Stage.STAGING


async def test_the_registry_and_the_run_know_the_model_by_its_namespace() -> None:
    registry = Registry()
    world = World(registry)
    await world.tick()
    world.runner.run = PipelineRun("run-1", RunState.SUCCEEDED, output=outcome("mlrun-1"))
    await world.tick()
    await world.tick()

    # The object is ml/churn-v1 of model churn: another namespace's churn is another model.
    assert registry.models == {"ml.churn"}
    assert world.runner.requests[0]["model"] == "ml.churn"
    assert KEY.startswith("ml.uid-1-")
    assert world.status.registry is not None
    assert (world.status.registry.name, world.status.registry.uri) == (
        "ml.churn",
        "models:/ml.churn/1",
    )


async def test_with_the_pipeline_service_down_it_says_so_and_starts_the_run_once_it_is_back() -> (
    None
):
    world = World(Registry())
    world.runner.down = True
    waiting = await world.tick()
    assert world.status.phase is ModelVersionPhase.PENDING
    status, reason, message = world.condition("Trained")
    assert (status, reason) == ("Unknown", "PipelinesUnavailable")
    assert message == "KFP's API at http://kfp cannot be reached; next attempt in 10 s."
    assert (waiting.retry_after_seconds, world.runner.starts) == (10, [])

    world.runner.down = False
    await world.tick()
    assert (world.status.phase, world.runner.starts) == (ModelVersionPhase.TRAINING, [KEY])

    world.runner.down = True
    await world.tick()
    assert world.status.phase is ModelVersionPhase.TRAINING  # what was true of the run still is
    assert world.condition("Trained")[:2] == ("Unknown", "PipelinesUnavailable")
    world.runner.down = False
    world.runner.run = replace(world.runner.run, finished_tasks=frozenset({"train"}))
    await world.tick()
    assert world.status.phase is ModelVersionPhase.EVALUATING
    assert world.runner.starts == [KEY]


async def test_a_finished_run_is_registered_from_what_it_logged_while_kfp_is_down() -> None:
    registry = Registry()
    world = World(registry)
    await world.tick()
    # The run ends while MLflow is down; KFP's API, as always, returns no outcome with it.
    world.runner.run = PipelineRun("run-1", RunState.SUCCEEDED)
    registry.down = True
    await world.tick()
    assert world.condition("Trained")[:2] == ("Unknown", "RegistryUnavailable")

    # MLflow is back, KFP is down. Without the outcome in MLflow, the outage is the answer.
    registry.down, world.runner.down = False, True
    await world.tick()
    assert world.status.phase is ModelVersionPhase.EVALUATING
    assert world.condition("Trained")[:2] == ("Unknown", "PipelinesUnavailable")
    # With it, KFP is not needed: the version is registered and staged.
    registry.outcomes[KEY] = outcome("mlrun-1")
    await world.tick()
    assert (world.status.phase, world.status.stage) == (ModelVersionPhase.STAGING, Stage.STAGING)
    assert registry.creates == 1


async def test_a_registry_that_never_takes_an_act_stops_the_reconcile() -> None:
    registry = Registry()
    registry.ignores_sign_offs = True
    world = World(registry)
    world.runner.run = PipelineRun("run-1", RunState.SUCCEEDED, output=outcome("mlrun-1"))
    await world.tick()
    await world.tick()
    assert world.status.registry is not None
    document = SPEC.model_dump(by_alias=True, mode="json")
    document["approval"]["signOff"] = {
        "by": "alice",
        "registryVersion": world.status.registry.version,
        "gatesDigest": world.status.gates_digest,
        "groups": ["ml-approvers"],
    }
    world.spec = ModelVersionSpec.model_validate(document)
    with pytest.raises(PermanentError, match="no status to report after 16 steps"):
        await world.tick()


V0_TAGS = {"paved.model_version": "ml/churn-v0"}
V0 = RegisteredVersion("ml.churn", "7", "mlrun-0", "models:/ml.churn/7", Stage.PRODUCTION, V0_TAGS)


async def test_the_run_compares_with_the_registrys_production_version_by_its_name() -> None:
    registry = Registry()
    registry.production = V0
    world = World(registry)
    await world.tick()
    assert world.runner.requests[0]["production"] == {
        "name": "churn-v0",
        "version": "7",
        "model_uri": "models:/ml.churn/7",
    }


def _serving_v0(world: World, *, created: str, model: str = "churn") -> None:
    v0 = example("02-modelversion.yaml") | {
        "metadata": {"name": "churn-v0"},
        "status": {"registry": {"name": "ml.churn", "version": "5", "uri": "models:/ml.churn/5"}},
    }
    v0["spec"] = v0["spec"] | {"model": model}
    rollout = example("03-rollout.yaml") | {
        "metadata": {"name": "churn-v1", "creationTimestamp": created}
    }
    rollout["spec"] = rollout["spec"] | {"baseline": "churn-v0"}
    world.cluster.model_versions["churn-v0"] = cast(Any, parsed(MODEL_VERSION, v0))
    world.cluster.rollout_objects.append(cast(Any, parsed(ROLLOUT, rollout)))


async def test_with_no_production_version_the_run_compares_with_a_rollouts_baseline() -> None:
    # The first model was deployed without the registry's production stage: what the Rollout
    # names as its baseline is what serves.
    world = World(Registry())
    _serving_v0(world, created="2026-11-27T10:00:00Z")
    await world.tick()
    assert world.runner.requests[0]["production"] == {
        "name": "churn-v0",
        "version": "5",
        "model_uri": "models:/ml.churn/5",
    }


async def test_another_models_baseline_is_no_reference() -> None:
    world = World(Registry())
    _serving_v0(world, created="2026-11-27T10:00:00Z", model="fraud")
    await world.tick()
    assert world.runner.requests[0]["production"] is None


async def test_a_first_model_is_judged_on_the_strictest_floor_of_spec_and_policy() -> None:
    world = World(Registry())
    policy = {
        "metadata": {"name": "floors"},
        "spec": {"gates": {"metricFloors": {"auc": 0.75, "logLoss": 0.5}}},
    }
    world.cluster.policies.append(cast(Any, parsed(PROMOTION_POLICY, policy)))
    await world.tick()
    request = world.runner.requests[0]
    assert request["production"] is None
    assert request["gates"]["metric"]["minValue"] == 0.75


def _nightly_scores(world: World, *, served: bool) -> None:
    """A BatchPrediction `nightly` of the churn model over the example FeatureView's users."""
    run = {
        "asOf": "2026-11-27T02:00:00Z",
        "model": "ml.churn",
        "modelVersion": "4",
        "viewVersion": "abc",
        "rows": 1000,
        "seconds": 3.0,
        "finishedAt": "2026-11-27T02:05:00Z",
        "path": "/data/ml/predictions/nightly/run=20261127T020000Z-v4",
    }
    body = {
        "metadata": {"name": "nightly"},
        "spec": {
            "model": {"name": "churn"},
            "entities": {"featureView": "user-activity-v1"},
            "trigger": {"schedule": "0 2 * * *"},
        },
        "status": {"served": run} if served else {},
    }
    world.cluster.batch_predictions["nightly"] = cast(Any, parsed(BATCH_PREDICTION, body))


def _offer_model() -> ModelVersionSpec:
    """The next-best-offer model: the nightly churn score is one of its features."""
    raw = example("02-modelversion.yaml")["spec"]
    raw["features"].append({"featureView": "nightly", "names": ["score"]})
    return ModelVersionSpec.model_validate(raw)


async def test_a_hybrid_trains_on_the_history_of_the_predictions_that_were_served() -> None:
    world = World(Registry(), _offer_model())
    _nightly_scores(world, served=True)

    await world.tick()

    (request,) = world.runner.requests
    assert request["batch_predictions"] == {"nightly": "abc"}  # its served view version
    history = request["feature_views"]["nightly"]
    assert history["source"] == {
        "path": "predictions/nightly/run=*/*.parquet",
        "timestampField": "as_of",
        "createdTimestampField": "served_at",
    }
    assert history["entity"]["joinKeys"] == ["user_id"]
    assert [f["name"] for f in history["features"]] == ["score", "model_version"]
    assert history["pointInTime"] == {"createdCutoff": True}


async def test_a_hybrid_waits_for_predictions_to_be_served_before_it_trains() -> None:
    world = World(Registry(), _offer_model())
    _nightly_scores(world, served=False)

    await world.tick()

    assert world.runner.starts == []
    assert world.condition("Trained") == (
        "Unknown",
        "FeaturesUnavailable",
        "BatchPrediction nightly has served no predictions yet; next attempt in 30 s.",
    )


async def test_a_hybrids_lineage_names_the_models_whose_predictions_it_read() -> None:
    world = World(Registry(), _offer_model())
    _nightly_scores(world, served=True)
    await world.tick()
    document = json.loads(outcome("mlrun-1"))
    document["lineage"]["upstreamModels"] = {"nightly": ["ml.churn/3", "ml.churn/4"]}
    world.runner.run = PipelineRun("run-1", RunState.SUCCEEDED, output=json.dumps(document))
    await world.tick()
    await world.tick()

    assert world.status.lineage is not None
    (upstream,) = world.status.lineage.upstream_models
    assert (upstream.batch_prediction, upstream.model_versions) == (
        "nightly",
        ["ml.churn/3", "ml.churn/4"],
    )
