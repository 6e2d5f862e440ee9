"""`PipelineRunner` on KFP's local runner: each run is a detached process of its own.

The run's directory is named by its key, so a second start for the same key (an operator
restart, a retry) finds the run instead of starting another one; the process outlives the
operator and writes its outcome to `result.json` atomically. Its tasks run as processes
(`SubprocessRunner`), or, given `docker`, as containers of the training image (`DockerRunner`,
`kfp_docker.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Final, assert_never

from paved.adapters.local_processes import alive, spawn
from paved.adapters.pipelines import built_in
from paved.ports.pipelines import (
    BuiltInPipeline,
    CompiledIR,
    PackagePipeline,
    PipelineRun,
    RunState,
    TrainingPipeline,
)

if TYPE_CHECKING:
    from paved.adapters.pipelines.kfp_docker import DockerTasks

_PIPELINES: Final = {"tabular-classifier": "paved_pipelines.run_local"}
# A team's pipeline runs in the same process as a built-in one: paved's join, the team's
# tasks, paved's gates (`paved_pipelines.team`); the operator never imports it (ADR 0037).
_TEAM_PIPELINES: Final = "paved_pipelines.run_local"
_TEAM_IR: Final = "pipeline.yaml"


class KfpLocalRunner:
    def __init__(self, root: Path, *, docker: DockerTasks | None = None) -> None:
        self._root = root
        self._docker = docker

    def _directory(self, run_id: str) -> Path:
        return self._root / run_id

    @staticmethod
    def run_id(run_key: str) -> str:
        return "run-" + hashlib.sha256(run_key.encode()).hexdigest()[:16]

    async def start(self, run_key: str, pipeline: TrainingPipeline, request: str) -> PipelineRun:
        module, which = _command(pipeline)
        run_id = self.run_id(run_key)
        directory = self._directory(run_id)
        if self._docker is not None and not directory.exists():
            # Before the claim: a run that cannot start leaves nothing, and a retry starts it.
            await asyncio.to_thread(self._docker.check_engine)
        try:
            directory.mkdir(parents=True)  # atomic claim: only one start per key wins
        except FileExistsError:
            return await self.get(run_id)
        (directory / "request.json").write_text(request)
        (directory / "key").write_text(run_key)
        if isinstance(pipeline, CompiledIR):
            (directory / _TEAM_IR).write_text(pipeline.text)
            which = ["--pipeline-file", str(directory / _TEAM_IR)]
        command = [sys.executable, "-m", module, *which]
        command += ["--request", str(directory / "request.json")]
        command += ["--root", str(directory / "artifacts")]
        command += ["--result", str(directory / "result.json")]
        if self._docker is not None:
            tasks = directory / "docker.json"
            tasks.write_text(json.dumps(self._docker.runner_arguments()))
            command += ["--docker", str(tasks)]
        pid = await asyncio.to_thread(spawn, command, directory / "run.log")
        (directory / "pid").write_text(str(pid))
        return PipelineRun(run_id, RunState.RUNNING)

    async def get(self, run_id: str) -> PipelineRun:
        directory = self._directory(run_id)
        result = directory / "result.json"
        finished = _finished_tasks(directory / "artifacts")
        if result.is_file():
            outcome = json.loads(result.read_text())
            state = RunState.SUCCEEDED if outcome["state"] == "SUCCEEDED" else RunState.FAILED
            return PipelineRun(run_id, state, outcome.get("output"), outcome.get("error"), finished)
        if not directory.is_dir():
            return PipelineRun(run_id, RunState.FAILED, error=f"no run {run_id} in {self._root}")
        if not _alive(directory / "pid"):
            return PipelineRun(
                run_id,
                RunState.FAILED,
                error=f"the run's process ended without a result; see {directory / 'run.log'}",
                finished_tasks=finished,
            )
        return PipelineRun(run_id, RunState.RUNNING, finished_tasks=finished)


def _command(pipeline: TrainingPipeline) -> tuple[str, list[str]]:
    """The module that runs `pipeline`, and the arguments that say which pipeline it is (a
    compiled IR's file is named once the run's directory exists)."""
    match pipeline:
        case BuiltInPipeline(name=name):
            module = built_in(_PIPELINES, name)
            return module, []
        case CompiledIR():
            return _TEAM_PIPELINES, []
        case PackagePipeline(path=path):
            return _TEAM_PIPELINES, ["--package", path]
        case _:
            assert_never(pipeline)


def _finished_tasks(pipeline_root: Path) -> frozenset[str]:
    """KFP's local runner writes a task's outputs to <root>/<pipeline>-<time>/<task>/, and
    `executor_output.json` there once the task's function has returned."""
    return frozenset(p.parent.name for p in pipeline_root.glob("*/*/executor_output.json"))


def _alive(pid_file: Path) -> bool:
    if not pid_file.is_file():
        return True  # just claimed; the pid is being written
    return alive(int(pid_file.read_text()))
