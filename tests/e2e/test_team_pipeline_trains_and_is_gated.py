"""A team's own compiled pipeline, named by reference from a ModelVersion (a ConfigMap holding
its IR), trains between paved's point-in-time join and paved's gates, and is registered with
its lineage as the built-in one is; a pipeline that breaks the contract starts no run and the
ModelVersion names the missing output, until the ConfigMap is fixed (ADR 0037)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import mlflow
import yaml
from mlflow.tracking import MlflowClient

from paved.core.model_versions import registered_model_name
from paved_local.platform import Endpoints
from tests.support.churn_data import write_churn_data
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.training import ROOT, example
from tests.support.waiting import wait_for

MV = "modelversion.paved.dev"
IR = ROOT / "examples" / "team-pipeline" / "churn-lgbm.yaml"


def _config_map(name: str, ir: str) -> str:
    manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name},
        "data": {"pipeline.yaml": ir},
    }
    return yaml.safe_dump(manifest)


def _team_model_version(name: str, config_map: str) -> str:
    manifest: dict[str, Any] = copy.deepcopy(
        yaml.safe_load((ROOT / "examples" / "team-pipeline" / "modelversion.yaml").read_text())
    )
    manifest["metadata"]["name"] = name
    manifest["spec"]["pipeline"]["compiled"]["configMap"] = config_map
    manifest["spec"]["labels"]["path"] = "churn_labels.parquet"  # under <data root>/<namespace>/
    return yaml.safe_dump(manifest)


def _setup(paved_operator: RunningOperator, kubectl: Kubectl, namespace: str) -> None:
    write_churn_data(paved_operator.data_root / namespace)
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"  # under <data root>/<namespace>/
    view["spec"]["materialization"]["enabled"] = False
    kubectl.apply(yaml.safe_dump(view), "-n", namespace)


def _runs_of(paved_operator: RunningOperator, namespace: str) -> list[Path]:
    runs = paved_operator.state_dir / "runs"
    keys = list(runs.iterdir()) if runs.is_dir() else []
    return [r for r in keys if (r / "key").read_text().startswith(f"{namespace}.")]


def test_a_team_pipeline_trains_is_gated_and_registered_with_its_lineage(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    _setup(paved_operator, kubectl, namespace)
    kubectl.apply(_config_map("churn-lgbm", IR.read_text()), "-n", namespace)
    kubectl.apply(_team_model_version("churn-lgbm-v1", "churn-lgbm"), "-n", namespace)

    staged = wait_for_condition(
        kubectl, MV, "churn-lgbm-v1", namespace, "GatesPassed", "True", timeout=300
    )
    status = staged["status"]
    assert (status["phase"], status["stage"]) == ("Staging", "Staging")
    gates = {g["name"] for g in status["gates"]}
    assert {"metric:auc", "slice:new_users", "golden", "schema:clicks_7d"} <= gates
    assert status["lineage"]["metrics"]["auc"] > 0.7
    assert status["lineage"]["datasetHash"]

    client = MlflowClient(endpoints.mlflow)
    registered = registered_model_name(namespace, "churn")
    (version,) = client.search_model_versions(f"name = '{registered}'")
    assert version.version == status["registry"]["version"]
    assert version.tags["paved.pipeline"] == "ConfigMap churn-lgbm key pipeline.yaml"
    assert json.loads(version.tags["paved.feature_views"]) == {
        "user-activity-v1": status["lineage"]["featureViews"][0]["version"]
    }
    run = client.get_run(status["registry"]["runId"])
    # Which IR trained, by its digest; the team's own metrics beside paved's.
    assert run.data.tags["paved.pipeline"].startswith("ConfigMap churn-lgbm key pipeline.yaml (")
    assert "sha256:" in run.data.tags["paved.pipeline"]
    assert "pipeline.auc" in run.data.metrics
    # What a Rollout would serve: the registry's URI loads as MLflow's pyfunc and scores.
    mlflow.set_tracking_uri(endpoints.mlflow)
    served = mlflow.pyfunc.load_model(status["registry"]["uri"])
    assert "sklearn" in served.metadata.flavors


def test_a_pipeline_that_breaks_the_contract_starts_no_run_and_names_what_is_missing(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str
) -> None:
    _setup(paved_operator, kubectl, namespace)
    document, *rest = list(yaml.safe_load_all(IR.read_text()))
    broken = copy.deepcopy(document)
    del broken["root"]["outputDefinitions"]["artifacts"]["evaluation"]
    text = yaml.safe_dump_all([broken, *rest])
    kubectl.apply(_config_map("churn-lgbm", text), "-n", namespace)
    kubectl.apply(_team_model_version("churn-lgbm-v1", "churn-lgbm"), "-n", namespace)

    refused = wait_for_condition(
        kubectl, MV, "churn-lgbm-v1", namespace, "Trained", "False", timeout=60
    )
    trained = condition(refused, "Trained")
    assert trained is not None
    assert trained["reason"] == "PipelineContractBroken"
    assert "missing output evaluation (system.Dataset" in trained["message"]
    assert refused["status"]["phase"] == "Pending"
    assert refused["status"].get("run") is None
    assert _runs_of(paved_operator, namespace) == []

    # The team fixes its ConfigMap: the next reconcile reads it again and the run starts.
    kubectl.apply(_config_map("churn-lgbm", IR.read_text()), "-n", namespace)
    started = wait_for(
        lambda: (kubectl.get_json(MV, "churn-lgbm-v1", "-n", namespace).get("status") or {}).get(
            "run"
        ),
        120,
        "the run to start once the ConfigMap meets the contract",
    )
    assert started["key"].startswith(f"{namespace}.")
    assert len(_runs_of(paved_operator, namespace)) == 1
