"""`PipelineRunner` on a KFP installation, through KFP's own `kfp.Client` (REST API v2beta1).

A run's display name is its key and is looked up before any create, so a restart or a retry finds
the run instead of submitting a second one. KFP's API server cannot run on this machine (it needs
a cluster and Argo), so this is tested against its HTTP contract, with the real client.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final, assert_never

import kfp
import urllib3
from kfp_server_api.exceptions import ApiException  # type: ignore[import-untyped]

from paved.adapters.pipelines import built_in
from paved.errors import PermanentError
from paved.ports.pipelines import (
    BuiltInPipeline,
    CompiledIR,
    PackagePipeline,
    PipelineRun,
    PipelinesUnavailableError,
    RunState,
    TrainingPipeline,
)

# By name, as kfp_local does: imported statically, mypy would check paved_pipelines (whose KFP
# decorators are untyped) as part of paved.
_compiled_path = importlib.import_module("paved_pipelines.compile").compiled_path
_PIPELINES: Final = {"tabular-classifier": Path(_compiled_path("tabular-classifier"))}
# paved's steps around a team's compiled pipeline (ADR 0037): its IR is loaded as data.
_compile_around = importlib.import_module("paved_pipelines.team").compile_around

# V2beta1RuntimeState → RunState. Anything else (RUNTIME_STATE_UNSPECIFIED, or no state at all:
# the server omits empty fields) has not started yet.
_STATES: Final = {
    "PENDING": RunState.PENDING,
    "RUNNING": RunState.RUNNING,
    "PAUSED": RunState.RUNNING,  # it can be resumed, so it is not over
    "CANCELING": RunState.RUNNING,  # it may still end SUCCEEDED or FAILED
    "SUCCEEDED": RunState.SUCCEEDED,
    "FAILED": RunState.FAILED,
    "CANCELED": RunState.CANCELED,
    "SKIPPED": RunState.SKIPPED,
}
_CONFLICT: Final = 409
_NOT_FOUND: Final = 404
# Status 0 is the client's own TLS failure; 408 and 429 ask the caller to come back.
_RETRYABLE: Final = frozenset({0, 408, 429})


class _RefusedError(PermanentError):
    """The API server refused the request (4xx): sending it again cannot help."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class KfpApiRunner:
    def __init__(
        self,
        client: kfp.Client,
        host: str,
        experiment: str = "paved",
        namespace: str | None = None,
    ) -> None:
        self._client = client
        self._where = f"KFP's API at {host}"  # for messages
        self._experiment = experiment
        self._namespace = namespace

    @classmethod
    def from_host(
        cls, host: str, experiment: str = "paved", namespace: str | None = None
    ) -> KfpApiRunner:
        """Blocks while kfp.Client probes the API server's /healthz, which it does (up to 5
        attempts, 5 s apart) unless it is given a namespace."""
        if namespace is None:
            return cls(kfp.Client(host=host), host, experiment)
        return cls(kfp.Client(host=host, namespace=namespace), host, experiment, namespace)

    async def start(self, run_key: str, pipeline: TrainingPipeline, request: str) -> PipelineRun:
        with tempfile.TemporaryDirectory() as scratch:
            # Compiling paved's steps around a team's IR is CPU work: off the event loop.
            package = await asyncio.to_thread(_package, pipeline, Path(scratch))
            return await self._start(run_key, package, request)

    async def _start(self, run_key: str, package: Path, request: str) -> PipelineRun:
        experiment_id = await self._experiment_id()
        # KFP does not deduplicate runs: look for this key's run first. Check-then-create is not
        # atomic; kopf runs one handler per object at a time, which is what makes it enough.
        predicate = {"key": "display_name", "operation": "EQUALS", "string_value": run_key}
        named = json.dumps({"predicates": [predicate]})
        existing = await self._call(
            "list runs",
            self._client.list_runs,
            experiment_id=experiment_id,
            filter=named,
            sort_by="created_at",
            page_size=1,
        )
        if existing.runs:
            return _pipeline_run(existing.runs[0])
        created = await self._call(
            "create run",
            self._client.create_run_from_pipeline_package,
            pipeline_file=str(package),
            arguments={"request": request},
            run_name=run_key,
            experiment_id=experiment_id,
        )
        return _pipeline_run(created.run_info)

    async def get(self, run_id: str) -> PipelineRun:
        try:
            run = await self._call("get run", self._client.get_run, run_id=run_id)
        except _RefusedError as refused:
            if refused.status != _NOT_FOUND:
                raise
            return PipelineRun(run_id, RunState.FAILED, error=f"no run {run_id} in KFP: {refused}")
        return _pipeline_run(run)

    async def _experiment_id(self) -> str:
        name, namespace = self._experiment, self._namespace
        try:
            # kfp.Client's create_experiment is get-or-create, but not atomic.
            experiment = await self._call(
                "create experiment", self._client.create_experiment, name=name, namespace=namespace
            )
        except _RefusedError as refused:
            if refused.status != _CONFLICT:
                raise
            # Another writer created it between the client's lookup and its create.
            experiment = await self._call(
                "get experiment",
                self._client.get_experiment,
                experiment_name=name,
                namespace=namespace,
            )
        return str(experiment.experiment_id)

    async def _call(self, what: str, method: Callable[..., Any], **arguments: Any) -> Any:
        where = self._where
        try:
            return await asyncio.to_thread(method, **arguments)
        except urllib3.exceptions.HTTPError as error:
            raise PipelinesUnavailableError(
                f"{where} cannot be reached ({what}): {error}"
            ) from error
        except ApiException as error:
            status, message = int(error.status or 0), _message(error)
            if status in _RETRYABLE or status >= 500:
                raise PipelinesUnavailableError(
                    f"{where} failed ({what}): {status} {message}"
                ) from error
            raise _RefusedError(status, f"{where} refused ({what}): {status} {message}") from error


def _package(pipeline: TrainingPipeline, scratch: Path) -> Path:
    """The pipeline package (IR) KFP runs: a built-in one's checked-in IR, or paved's steps
    compiled around a team's IR into `scratch` for this run."""
    match pipeline:
        case BuiltInPipeline(name=name):
            return built_in(_PIPELINES, name)
        case CompiledIR(source=source, text=text):
            try:
                compiled: Path = _compile_around(text, source, scratch / "pipeline.yaml")
            except Exception as error:  # kfp's own errors name no common type
                raise PermanentError(
                    f"the pipeline in {source} cannot be run between paved's steps: {error}",
                    reason="PipelineNotRunnable",
                ) from error
            return compiled
        case PackagePipeline(path=path):
            raise PermanentError(
                f"PAVED_PIPELINE_RUNNER=kfp-api runs compiled pipelines only, and importing "
                f"package {path} would run its code in the operator: compile it with kfp's "
                "compiler and name its IR in spec.pipeline.compiled (a ConfigMap)",
                reason="PipelineNotRunnable",
            )
        case _:
            assert_never(pipeline)


def _pipeline_run(run: Any) -> PipelineRun:
    """`run` is a V2beta1Run. Its `output` stays None: KFP v2 records output parameters in ML
    Metadata (the `outputs` custom property of the task's and the root DAG's executions), and
    the REST API serves none of them. `run_details.task_details[*]` carry only MLMD ids
    (`execution_id`, and artifact ids in `outputs`); reading the value takes an MLMD client."""
    state = _STATES.get(str(run.state), RunState.PENDING)
    error = _failure(run) if state is RunState.FAILED else None
    finished = frozenset(
        str(task.display_name) for task in _tasks(run) if str(task.state) == "SUCCEEDED"
    )
    return PipelineRun(str(run.run_id), state, error=error, finished_tasks=finished)


def _tasks(run: Any) -> list[Any]:
    """The run's V2beta1PipelineTaskDetails, one per task, named by the pipeline's task names."""
    tasks = run.run_details.task_details if run.run_details is not None else None
    return list(tasks or [])


def _failure(run: Any) -> str:
    if run.error is not None and run.error.message:
        return str(run.error.message)
    # The API documents a run's `error` as a failure to retrieve the run, and a task's as set
    # once the task FAILED or was CANCELED: the reason may be only on the failed tasks.
    failed = [
        f"{task.display_name}: {task.error.message}"
        for task in _tasks(run)
        if task.error is not None and task.error.message
    ]
    return "; ".join(failed) or "the run failed without an error message"


def _message(error: Any) -> str:
    """The `message` of the google.rpc.Status body the API server answers errors with."""
    try:
        return str(json.loads(error.body)["message"])
    except (TypeError, ValueError, KeyError):
        return str(error.reason)
