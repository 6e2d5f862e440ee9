"""A team's own compiled pipeline, named by reference from a ModelVersion (a ConfigMap holding
its IR), trains between paved's point-in-time join and paved's gates, is registered with its
lineage and rolls out under live traffic as the built-in one does; a pipeline that breaks the
contract starts no run and the ModelVersion names the missing output, until the ConfigMap is
fixed (ADR 0037)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import httpx
import mlflow
import yaml
from mlflow.tracking import MlflowClient

from paved.core.model_versions import registered_model_name
from paved_local.dataplane.load import Example
from paved_local.platform import Endpoints, LocalPlatform
from tests.support.approvals import sign_off
from tests.support.churn_data import serving_examples, write_churn_data
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.production_rule import register_production_rule
from tests.support.traffic import steady_load
from tests.support.training import ROOT, example
from tests.support.waiting import wait_for

MV = "modelversion.paved.dev"
ROLLOUT = "rollout.paved.dev"
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


def _serving_a_rule(endpoints: Endpoints, kubectl: Kubectl, namespace: str, model: str) -> None:
    """A SeldonDeployment whose baseline is a rule registered as the model's production."""
    graph = {"name": "classifier", "modelUri": register_production_rule(endpoints, model)}
    seldon = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "churn"},
        "spec": {"predictors": [{"name": "baseline", "traffic": 100, "graph": graph}]},
    }
    kubectl.apply(yaml.safe_dump(seldon), "-n", namespace)
    # Traffic starts only once the data plane routes it: before, a request is a 404.
    wait_for(
        lambda: any(
            (r["namespace"], r["deployment"]) == (namespace, "churn")
            for r in httpx.get(f"{endpoints.dataplane}/v1/deployments", timeout=10).json()["routes"]
        ),
        timeout=120,
        what="the data plane to route churn",
    )


def _served_scores(endpoints: Endpoints, namespace: str, examples: list[Example]) -> list[float]:
    """What the SeldonDeployment `churn` answers for each example, through the data plane."""
    url = f"{endpoints.dataplane}/seldon/{namespace}/churn/api/v1.0/predictions"
    scores = []
    for request in examples:
        names = list(request.features)
        body = {"data": {"names": names, "ndarray": [[request.features[n] for n in names]]}}
        answer = httpx.post(url, json=body, timeout=30)
        assert answer.status_code == 200, answer.text
        scores.append(float(answer.json()["data"]["ndarray"][0]))
    return scores


def _rolled_out(kubectl: Kubectl, namespace: str, candidate: str) -> dict[str, Any]:
    rollout = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": candidate},
        "spec": {
            "candidate": candidate,
            "target": {"seldonDeployment": {"name": "churn"}},
            "steps": [{"canary": {"weight": 50, "duration": "10s"}}, {"full": {}}],
            "analysis": {"interval": "2s", "window": "20s", "onNoData": "wait"},
        },
    }
    kubectl.apply(yaml.safe_dump(rollout), "-n", namespace)
    found: dict[str, Any] = wait_for(
        lambda: (
            (
                (s := kubectl.get_json(ROLLOUT, candidate, "-n", namespace).get("status") or {})
                and s.get("phase") in ("Succeeded", "RolledBack", "Failed")
                and s
            )
            or None
        ),
        timeout=180,
        what=f"{candidate}'s rollout to end",
    )
    return found


def test_a_team_pipeline_trains_is_gated_registered_with_its_lineage_and_rolls_out(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    namespace: str,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
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

    # It rolls out as any model does: the data plane loads it from its storage URI and serves
    # it under live traffic, through a canary, to the whole of it.
    _serving_a_rule(endpoints, kubectl, namespace, registered)
    sign_off(kubectl, local_platform, namespace, "churn-lgbm-v1")
    data = paved_operator.data_root / namespace
    with steady_load(endpoints, namespace, "churn", serving_examples(data), rate=20) as load:
        ended = _rolled_out(kubectl, namespace, "churn-lgbm-v1")
    assert ended["phase"] == "Succeeded", ended
    assert load.sent > 0
    assert load.failed == 0
    seldon = kubectl.get_json("seldondeployment", "churn", "-n", namespace)
    (baseline,) = seldon["spec"]["predictors"]
    assert baseline["graph"]["modelUri"] == status["registry"]["uri"]
    # The data plane now answers with the team's LightGBM model, not the rule (1.0 for all).
    scores = _served_scores(endpoints, namespace, serving_examples(data)[:20])
    assert len(set(scores)) > 1
    assert all(0 <= score <= 1 for score in scores)


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
