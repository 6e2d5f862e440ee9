"""KfpLocalRunner reports the tasks a run has finished, read from where KFP's real local runner
writes them, while the run goes on.

(No `from __future__ import annotations` here: KFP reads the annotations at decoration time.)
"""

import asyncio
import threading
from pathlib import Path

from kfp import dsl, local

from paved.adapters.pipelines.kfp_local import KfpLocalRunner
from paved.ports.pipelines import PipelineRun, RunState
from tests.support.waiting import wait_for


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def train(model: dsl.Output[dsl.Model]) -> None:
    from pathlib import Path

    Path(model.path).write_text("fitted")


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def evaluate(model: dsl.Input[dsl.Model], go: str) -> str:
    """Evaluates once the test creates `go`: the test looks at the run in between."""
    import time
    from pathlib import Path

    deadline = time.monotonic() + 120
    while not Path(go).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{go} was never created")
        time.sleep(0.05)
    return Path(model.path).read_text()


@dsl.pipeline(name="train-then-evaluate")
def train_then_evaluate(go: str) -> str:
    trained = train()
    return evaluate(model=trained.outputs["model"], go=go).output


def test_a_run_reports_its_training_task_finished_while_it_evaluates(tmp_path: Path) -> None:
    runner = KfpLocalRunner(tmp_path / "runs")
    # What `start` lays out, with the pipeline run in this process rather than detached.
    directory = tmp_path / "runs" / "run-1"
    directory.mkdir(parents=True)
    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(directory / "artifacts")
    )
    go = tmp_path / "go"
    outputs: list[str] = []
    pipeline = threading.Thread(
        target=lambda: outputs.append(train_then_evaluate(go=str(go)).output)
    )
    pipeline.start()

    def finished(tasks: set[str]) -> PipelineRun | None:
        run = asyncio.run(runner.get("run-1"))
        return run if run.finished_tasks == tasks else None

    try:
        evaluating = wait_for(lambda: finished({"train"}), 120, "the train task to finish")
        assert evaluating.state is RunState.RUNNING
    finally:
        go.touch()
        pipeline.join(timeout=120)
    assert outputs == ["fitted"]
    assert finished({"train", "evaluate"}) is not None
