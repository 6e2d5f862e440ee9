"""Training tasks as containers (PAVED_PIPELINE_RUNNER=kfp-docker): what a task container gets,
and what a ModelVersion says when no Docker engine answers."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from paved.adapters.pipelines.kfp_docker import DockerTasks
from paved.adapters.pipelines.kfp_local import KfpLocalRunner
from paved.api.model_version import ModelVersionPhase
from paved_pipelines.run_local import _task_runner
from paved_pipelines.training import IMAGE
from tests.support.model_versions import World
from tests.unit.controllers.test_model_version_handler import Registry

MLFLOW = "http://127.0.0.1:5000"


def test_a_task_container_gets_the_data_read_only_mlflow_and_the_operators_uid(
    tmp_path: Path,
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "data").symlink_to(tmp_path / "real")
    tasks = DockerTasks.for_training(str(tmp_path / "data"), MLFLOW)
    arguments = tasks.runner_arguments()
    assert tasks.image == IMAGE
    (mount,) = arguments["mounts"]
    # The request names paths under the data root as the operator has it: the same path inside.
    assert mount == {
        "Type": "bind",
        "Source": str(tmp_path / "real"),
        "Target": str(tmp_path / "data"),
        "ReadOnly": True,
    }
    assert arguments["environment"] == {"MLFLOW_TRACKING_URI": MLFLOW, "HOME": "/tmp"}
    assert arguments["network_mode"] == "host"  # the platform's services listen on loopback
    assert arguments["user"] == f"{os.getuid()}:{os.getgid()}"
    assert {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} <= set(arguments["forward"])


def test_credentials_reach_the_task_from_the_runs_environment_never_from_its_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3cr3t")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID", raising=False)
    written = tmp_path / "docker.json"
    written.write_text(json.dumps(DockerTasks.for_training("/data", MLFLOW).runner_arguments()))
    assert "s3cr3t" not in written.read_text()

    runner = _task_runner(written)

    environment = runner.container_run_args["environment"]
    assert environment["AWS_SECRET_ACCESS_KEY"] == "s3cr3t"
    assert "AWS_ACCESS_KEY_ID" not in environment  # unset stays unset
    assert environment["MLFLOW_TRACKING_URI"] == MLFLOW
    assert runner.container_run_args["mounts"][0]["ReadOnly"] is True


async def test_without_a_docker_engine_the_model_version_says_so_and_nothing_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    socket = f"unix://{tmp_path / 'no-docker.sock'}"
    monkeypatch.setenv("DOCKER_HOST", socket)
    runs = tmp_path / "runs"
    runner = KfpLocalRunner(runs, docker=DockerTasks.for_training("/data", MLFLOW))
    world = World(Registry())
    world.ports = replace(world.ports, runner=runner)

    waiting = await world.tick()

    status, reason, message = world.condition("Trained")
    assert (status, reason) == ("Unknown", "PipelinesUnavailable")
    assert message.startswith(
        f"PAVED_PIPELINE_RUNNER=kfp-docker runs each training task in a container, and no "
        f"Docker engine answers at {socket}"
    )
    assert "start one (`make setup`) or set PAVED_PIPELINE_RUNNER=kfp-local" in message
    assert world.status.phase is ModelVersionPhase.PENDING
    assert waiting.retry_after_seconds == 10
    assert not runs.exists()  # no run claimed: once Docker answers, the next tick starts it
