"""KfpApiRunner with KFP's real `kfp.Client`, against KFP's API contract served by a fake.

KFP's API server cannot run here: it needs a Kubernetes cluster, Argo Workflows, a database and
ML Metadata. `tests.support.kfp_contract` implements its documented v2beta1 HTTP contract; the
client on the other side is KFP's own, unmodified, so its requests and parsing are the real ones.
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from paved.adapters.pipelines.kfp_api import KfpApiRunner
from paved.errors import PermanentError
from paved.ports.pipelines import (
    TERMINAL,
    BuiltInPipeline,
    CompiledIR,
    PackagePipeline,
    PipelineRun,
    PipelinesUnavailableError,
    RunState,
)
from paved_pipelines.compile import compiled_path
from tests.support.kfp_contract import UNAVAILABLE, KfpContract

REQUEST = json.dumps({"model_version": "churn-v1", "seed": 42})


@pytest.fixture
def contract() -> Iterator[KfpContract]:
    with KfpContract() as fake:
        yield fake
    assert not fake.unimplemented, "the client called what the contract fake does not implement"


@pytest.fixture
def runner(contract: KfpContract) -> KfpApiRunner:
    return _connect(contract)


def _connect(contract: KfpContract) -> KfpApiRunner:
    with warnings.catch_warnings():
        # kfp.Client warns on every construction that it needs KFP >= 2.0.0-beta.2: a notice
        # about the server's version, not a fault of ours.
        warnings.filterwarnings(
            "ignore", "This client only works with Kubeflow Pipeline", FutureWarning
        )
        return KfpApiRunner.from_host(contract.url)


async def _started(runner: KfpApiRunner, key: str = "ns/churn/1") -> PipelineRun:
    return await runner.start(key, BuiltInPipeline("tabular-classifier"), REQUEST)


async def test_start_creates_one_run_named_by_its_key_with_the_compiled_pipeline(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    run = await _started(runner)

    (created,) = contract.sent("POST", "/runs")
    (experiment,) = [e for e in contract.experiments.values() if e["display_name"] == "paved"]
    assert created.body["display_name"] == "ns/churn/1"
    assert created.body["experiment_id"] == experiment["experiment_id"]
    pipeline, platform = yaml.safe_load_all(compiled_path().read_text())
    # The platform spec travels with the run: it is what gives the task Pods MLflow and the data.
    sent = created.body["pipeline_spec"]
    assert sent["pipeline_spec"] == pipeline
    assert sent["platform_spec"].keys() == platform.keys() == {"platforms"}
    executors = sent["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert executors["exec-prepare"]["pvcMount"][0]["mountPath"] == "/data"
    assert created.body["runtime_config"] == {"parameters": {"request": REQUEST}}
    assert run == PipelineRun(contract.runs[0]["run_id"], RunState.PENDING)


async def test_kfp_client_probes_health_when_it_is_built_without_a_namespace(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    assert [r.path for r in contract.requests] == ["/apis/v2beta1/healthz"]


async def test_starting_again_with_the_same_key_returns_the_same_run(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    first = await _started(runner)
    contract.move(first.id, "RUNNING")
    again = await _started(runner)
    restarted = await _started(_connect(contract))  # as after an operator restart
    other = await _started(runner, "ns/churn/2")

    assert again == restarted == PipelineRun(first.id, RunState.RUNNING)
    assert other.id != first.id
    assert len(contract.sent("POST", "/runs")) == 2
    lookup = contract.sent("GET", "/runs")[0].query
    assert json.loads(lookup["filter"]) == {
        "predicates": [{"key": "display_name", "operation": "EQUALS", "string_value": "ns/churn/1"}]
    }
    assert lookup["experiment_id"] == contract.runs[0]["experiment_id"]


async def test_an_experiment_created_concurrently_is_used_rather_than_failing(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    contract.race_experiment("paved")
    run = await _started(runner)

    (experiment,) = [e for e in contract.experiments.values() if e["display_name"] == "paved"]
    assert len(contract.sent("POST", "/experiments")) == 1  # refused: the other writer won
    assert contract.runs[0]["experiment_id"] == experiment["experiment_id"]
    assert run.state is RunState.PENDING


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (["RUNNING", "SUCCEEDED"], RunState.SUCCEEDED),
        (["RUNNING", "FAILED"], RunState.FAILED),
        # kfp.Client's own wait_for_run_completion never ends on CANCELED.
        (["RUNNING", "CANCELING", "CANCELED"], RunState.CANCELED),
        (["SKIPPED"], RunState.SKIPPED),
    ],
)
async def test_every_terminal_state_ends_the_wait(
    runner: KfpApiRunner, contract: KfpContract, states: list[str], expected: RunState
) -> None:
    run = await _started(runner)
    contract.move_on_each_get(run.id, *states)

    seen = [(await runner.get(run.id)).state for _ in states]

    assert seen[-1] is expected
    assert [s in TERMINAL for s in seen] == [False] * (len(states) - 1) + [True]


async def test_a_succeeded_run_reports_no_output_because_the_api_carries_none(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    run = await _started(runner)
    contract.move(run.id, "SUCCEEDED")

    done = await runner.get(run.id)

    # The run's details name MLMD executions and artifacts, never parameter values.
    tasks = contract.runs[0]["run_details"]["task_details"]
    assert {t["display_name"] for t in tasks} == {"prepare", "train", "evaluate-and-log"}
    assert all("execution_id" in t for t in tasks)
    assert done == PipelineRun(
        run.id,
        RunState.SUCCEEDED,
        output=None,
        error=None,
        finished_tasks=frozenset({"prepare", "train", "evaluate-and-log"}),
    )


async def test_a_running_run_reports_the_tasks_it_has_finished(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    run = await _started(runner)
    contract.move(run.id, "RUNNING")
    assert (await runner.get(run.id)).finished_tasks == frozenset()
    contract.finish_task(run.id, "prepare")
    contract.finish_task(run.id, "train")

    running = await runner.get(run.id)

    assert running.state is RunState.RUNNING
    assert running.finished_tasks == frozenset({"prepare", "train"})


async def test_a_failed_run_reports_its_error_message(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    run = await _started(runner)
    contract.move(run.id, "FAILED", error="pod train-abc was OOMKilled")

    assert await runner.get(run.id) == PipelineRun(
        run.id, RunState.FAILED, error="pod train-abc was OOMKilled"
    )


async def test_a_failed_run_without_an_error_of_its_own_reports_the_failed_task(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    run = await _started(runner)
    contract.fail_task(run.id, "train", "ValueError: no rows to train on")

    failed = await runner.get(run.id)

    assert failed.state is RunState.FAILED
    assert failed.error == "train: ValueError: no rows to train on"


@pytest.mark.parametrize(
    ("state", "expected"),
    [
        ("PENDING", RunState.PENDING),
        ("RUNNING", RunState.RUNNING),
        ("CANCELING", RunState.RUNNING),
        ("PAUSED", RunState.RUNNING),
        ("RUNTIME_STATE_UNSPECIFIED", RunState.PENDING),
    ],
)
async def test_states_that_may_still_change_do_not_end_the_wait(
    runner: KfpApiRunner, contract: KfpContract, state: str, expected: RunState
) -> None:
    run = await _started(runner)
    contract.move(run.id, state)

    current = await runner.get(run.id)

    assert current.state is expected
    assert current.state not in TERMINAL


async def test_a_run_kfp_does_not_know_has_failed(runner: KfpApiRunner) -> None:
    gone = await runner.get("3f1c0a52-0000-4000-8000-000000000000")

    assert gone.state is RunState.FAILED
    assert gone.error is not None
    assert "no run 3f1c0a52" in gone.error


async def test_an_unreachable_api_server_is_unavailable_and_named(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    contract.close()

    where = re.escape(f"KFP's API at {contract.url} cannot be reached")
    with pytest.raises(PipelinesUnavailableError, match=rf"^{where} \(get run\)"):
        await runner.get("any-run")
    with pytest.raises(PipelinesUnavailableError, match=rf"^{where} \(create experiment\)"):
        await _started(runner)


async def test_a_server_error_is_transient(runner: KfpApiRunner, contract: KfpContract) -> None:
    run = await _started(runner)
    contract.answer_next(UNAVAILABLE, "the database is not ready")

    with pytest.raises(PipelinesUnavailableError, match="503 the database is not ready"):
        await runner.get(run.id)


async def test_an_unknown_pipeline_is_permanent_and_sends_nothing(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    before = len(contract.requests)

    with pytest.raises(PermanentError, match=r"unknown pipeline 'churn'.*tabular-classifier"):
        await runner.start("ns/churn/1", BuiltInPipeline("churn"), REQUEST)
    assert len(contract.requests) == before


TEAM_IR = (
    Path(__file__).resolve().parents[3] / "examples" / "team-pipeline" / "churn-lgbm.yaml"
).read_text()


async def test_a_team_pipeline_is_uploaded_between_paveds_own_steps(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    team = CompiledIR("ConfigMap churn-lgbm key pipeline.yaml", TEAM_IR)
    await runner.start("ns/churn-lgbm/1", team, REQUEST)

    (created,) = contract.sent("POST", "/runs")
    sent = created.body["pipeline_spec"]
    tasks = sent["pipeline_spec"]["root"]["dag"]["tasks"]
    assert set(tasks) == {"prepare", "contract-inputs", "churn-lgbm", "judge-and-log"}
    # The team's training is its own IR, nested; only paved's tasks reach the data and MLflow.
    (team_ir,) = yaml.safe_load_all(TEAM_IR)
    nested = sent["pipeline_spec"]["components"]["comp-churn-lgbm"]
    assert nested["outputDefinitions"] == team_ir["root"]["outputDefinitions"]
    executors = sent["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert set(executors) == {"exec-prepare", "exec-judge-and-log"}
    assert created.body["runtime_config"] == {"parameters": {"request": REQUEST}}


async def test_a_package_path_is_refused_rather_than_imported_in_the_operator(
    runner: KfpApiRunner, contract: KfpContract
) -> None:
    with pytest.raises(PermanentError, match=r"compile it .* spec.pipeline.compiled") as refused:
        await runner.start("ns/churn/1", PackagePipeline("team_pipelines.churn.pipeline"), REQUEST)
    assert refused.value.reason == "PipelineNotRunnable"
    assert contract.sent("POST", "/runs") == []
