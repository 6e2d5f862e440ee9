"""A team's own pipeline (the LightGBM example) between paved's steps, through KFP's local
runner, against the local MLflow: paved's join before it, paved's gates and registry after."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import mlflow
import pyarrow.parquet as pq
import pytest
from kfp import local
from mlflow.tracking import MlflowClient

from paved.adapters.pipelines.kfp_local import KfpLocalRunner
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.ports.pipelines import TERMINAL, PackagePipeline, PipelineRun, RunState
from paved_local.platform import Endpoints
from paved_pipelines.team import ContractError, around, checked_component
from tests.support.team_pipelines import NO_EVALUATION
from tests.support.training import training_request
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "team-pipeline" / "churn-lgbm.yaml"


def test_the_example_team_pipeline_is_judged_registered_and_loads_as_served(
    data_root: Path, endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", endpoints.mlflow)
    mlflow.set_tracking_uri(endpoints.mlflow)
    run_key = f"uid-{uuid.uuid4().hex[:8]}-team"
    request = training_request(data_root, run_key).model_copy(
        update={"pipeline": "ConfigMap churn-lgbm key pipeline.yaml (sha256:…)"}
    )
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    pipeline = around(checked_component(EXAMPLE.read_text(), "the example"))

    outcome = json.loads(pipeline(request=request.model_dump_json()).output)

    # paved's own gates judged the team's model, on the team's held-out rows.
    assert outcome["metrics"]["auc"] > 0.7
    gates = {v["gate"] for v in outcome["verdicts"]}
    assert {"metric:auc", "slice:new_users", "golden", "schema:clicks_7d"} <= gates
    assert outcome["lineage"]["rows"] == 1200
    run = MlflowClient(endpoints.mlflow).get_run(outcome["mlflowRunId"])
    assert run.data.tags["paved.pipeline"] == request.pipeline
    assert len(run.data.tags["paved.dataset_hash"]) == 64
    assert run.data.metrics["pipeline.auc"] == pytest.approx(outcome["metrics"]["auc"])
    # The training data kept is what the team trained on: the rows it did not hold out.
    kept = mlflow.artifacts.download_artifacts(
        run_id=run.info.run_id, artifact_path="training-data/features.parquet"
    )
    assert pq.read_metadata(kept).num_rows == 1200 - 300  # validation_fraction 0.25
    # Registered as any model is, and loadable as the model server loads it.
    registry = MlflowRegistry(endpoints.mlflow)
    version = asyncio.run(registry.register("churn", outcome["mlflowRunId"], run_key, {}))
    served = mlflow.pyfunc.load_model(f"models:/churn/{version.version}")
    assert served.metadata.flavors.keys() >= {"python_function", "sklearn"}


def test_an_ir_without_the_evaluation_output_is_refused_naming_it() -> None:
    ir = EXAMPLE.read_text().replace("evaluation:", "held_out:")
    with pytest.raises(ContractError, match=r"missing output evaluation \(system.Dataset"):
        checked_component(ir, "ConfigMap broken")


def test_a_package_that_breaks_the_contract_fails_its_run_before_any_task(
    data_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The run's process imports the package (the operator never does): it finds it on its path.
    (tmp_path / "team_pipelines").mkdir()
    (tmp_path / "team_pipelines" / "__init__.py").write_text("")
    (tmp_path / "team_pipelines" / "churn.py").write_text(NO_EVALUATION)
    monkeypatch.setenv("PYTHONPATH", f"{tmp_path}:{os.environ.get('PYTHONPATH', '')}")
    runner = KfpLocalRunner(tmp_path / "runs")
    request = training_request(data_root, "package").model_dump_json()

    started = asyncio.run(
        runner.start(
            "ns.uid-package", PackagePipeline("team_pipelines.churn.no_evaluation"), request
        )
    )
    ended: PipelineRun = wait_for(
        lambda: (run := asyncio.run(runner.get(started.id))).state in TERMINAL and run,
        timeout=120,
        what="the package's run to end",
    )

    assert ended.state is RunState.FAILED
    assert "package team_pipelines.churn.no_evaluation breaks the pipeline contract" in ended.error
    assert "missing output evaluation (system.Dataset" in ended.error
    assert ended.finished_tasks == frozenset()  # not even paved's join ran
