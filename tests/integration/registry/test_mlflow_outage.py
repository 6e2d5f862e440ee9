"""Registration while the real MLflow server is down, and after it comes back.

The platform's MLflow process is stopped and started again by the platform itself, on the same
port and the same store: an outage as an operator meets it, not a fake of one.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from paved.adapters.registry.mlflow import KEY_TAG, MlflowRegistry
from paved.api.model_version import ModelVersionPhase, ModelVersionSpec, Stage
from paved.core.model_versions import PipelineRun, RunState, registered_model_name, run_key
from paved.ports.registry import RegistryUnavailableError
from paved_local.platform import MLFLOW, Endpoints, LocalPlatform
from tests.support.model_versions import SPEC, World, outcome
from tests.support.outages import Outage, outage


@pytest.fixture
def mlflow_outage(local_platform: LocalPlatform) -> Iterator[Outage]:
    with outage(local_platform, MLFLOW) as taken:
        yield taken


def _logged_run(endpoints: Endpoints) -> str:
    mlflow.set_tracking_uri(endpoints.mlflow)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), name="model")
    return str(run.info.run_id)


def _versions(endpoints: Endpoints, model: str) -> list[tuple[str, str]]:
    found = MlflowClient(endpoints.mlflow).search_model_versions(f"name = '{model}'")
    return [(str(v.version), v.tags.get(KEY_TAG, "")) for v in found]


async def test_an_outage_is_reported_in_seconds_and_a_registration_waits_it_out_once(
    endpoints: Endpoints, mlflow_outage: Outage
) -> None:
    model, key = f"churn-{uuid.uuid4().hex[:8]}", "uid-1-abc"
    run_id = _logged_run(endpoints)
    mlflow_outage.begin()

    impatient = MlflowRegistry(endpoints.mlflow, backoff=(0.1, 0.2))
    started = time.monotonic()
    with pytest.raises(RegistryUnavailableError) as first:
        await impatient.register(model, run_id, key, {})
    # MLflow's own client would retry a refused connection for minutes before saying anything.
    assert time.monotonic() - started < 10
    message = str(first.value)
    assert message.startswith(
        f"MLflow at {endpoints.mlflow} cannot be reached to register "
        f"{model} for key {key}: ConnectError"
    )
    assert "(3 attempts)" in message
    assert "1 call(s) in a row" in message
    with pytest.raises(RegistryUnavailableError) as second:
        await impatient.find(model, key)
    assert (first.value.retry_after_seconds, second.value.retry_after_seconds) == (5, 10)

    # A patient registry keeps trying while MLflow starts again (half a minute on a busy
    # machine), then registers once.
    patient = MlflowRegistry(endpoints.mlflow, backoff=(0.5, 1.0, *[2.0] * 90))
    registering = asyncio.create_task(patient.register(model, run_id, key, {}))
    await asyncio.to_thread(mlflow_outage.end)
    registered = await registering
    again = await patient.register(model, run_id, key, {})

    assert registered == again
    assert _versions(endpoints, model) == [(registered.version, key)]


async def test_the_controller_reports_the_outage_and_registers_once_mlflow_is_back(
    endpoints: Endpoints, mlflow_outage: Outage
) -> None:
    model = f"churn-{uuid.uuid4().hex[:8]}"
    spec = ModelVersionSpec.model_validate({**SPEC.model_dump(by_alias=True), "model": model})
    key = run_key("uid-1", spec, namespace="ml")  # the World's ModelVersion is ml/churn-v1
    registered = registered_model_name("ml", model)
    world = World(MlflowRegistry(endpoints.mlflow, backoff=(0.1, 0.2)), spec)
    world.runner.run = PipelineRun("run-1", RunState.RUNNING, finished_tasks=frozenset({"train"}))
    await world.tick()
    assert world.status.phase is ModelVersionPhase.EVALUATING
    # The run logs its outcome to MLflow and ends; MLflow goes down before it is registered.
    mlflow_run = _logged_run(endpoints)
    world.runner.run = PipelineRun("run-1", RunState.SUCCEEDED, output=outcome(mlflow_run))
    mlflow_outage.begin()

    first = await world.tick()
    assert world.status.phase is ModelVersionPhase.EVALUATING
    status, reason, message = world.condition("Trained")
    assert (status, reason) == ("Unknown", "RegistryUnavailable")
    assert message.startswith(
        f"MLflow at {endpoints.mlflow} cannot be reached to find the "
        f"{registered} version of key {key}: ConnectError"
    )
    assert message.endswith("; next attempt in 5 s.")
    second = await world.tick()
    assert (first.retry_after_seconds, second.retry_after_seconds) == (5, 10)
    assert world.condition("Trained")[2].endswith("2 call(s) in a row; next attempt in 10 s.")

    mlflow_outage.end()
    await world.tick()
    assert (world.status.phase, world.status.stage) == (ModelVersionPhase.STAGING, Stage.STAGING)
    assert world.condition("Trained")[:2] == ("True", "Registered")
    await world.tick()
    assert world.status.registry is not None
    assert _versions(endpoints, registered) == [(world.status.registry.version, key)]
