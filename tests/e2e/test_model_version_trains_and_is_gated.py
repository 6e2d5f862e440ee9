"""A ModelVersion is trained by a real pipeline run, registered in MLflow with its lineage and
staged when its gates pass; an operator crash mid-training duplicates nothing; a version is
Evaluating while its run evaluates the trained model; a version that regresses on a slice is held
with the slice named."""

from __future__ import annotations

import asyncio
import copy
import json
from typing import Any

import yaml
from mlflow.tracking import MlflowClient

from paved.adapters.registry.mlflow import KEY_TAG, MlflowRegistry
from paved.api.model_version import Stage
from paved.core.model_versions import registered_model_name
from paved_local.platform import Endpoints
from tests.support.churn_data import write_churn_data
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.training import example
from tests.support.waiting import wait_for

MV = "modelversion.paved.dev"


def _model_version(name: str, model: str, labels_path: str) -> dict[str, Any]:
    manifest = copy.deepcopy(example("02-modelversion.yaml"))
    manifest["metadata"]["name"] = name
    spec = manifest["spec"]
    spec["model"] = model
    spec["labels"]["path"] = labels_path
    spec["gates"]["metric"]["minValue"] = 0.6
    spec["gates"]["slices"] = [
        {"name": "new_users", "where": "tenure_days < 200", "maxRegression": 0.02}
    ]
    return manifest


def _gate(status: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in status["gates"] if g["name"] == name)
    return found


def _in_phase(kubectl: Kubectl, name: str, namespace: str, phase: str) -> dict[str, Any] | None:
    found: dict[str, Any] = kubectl.get_json(MV, name, "-n", namespace)
    return found if (found.get("status") or {}).get("phase") == phase else None


def test_model_version_is_trained_registered_staged_and_a_slice_regression_is_held(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    data = paved_operator.data_root / namespace
    write_churn_data(data)
    write_churn_data(data, regress_slice=True, labels_file="churn_labels_v2.parquet")
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"  # under <data root>/<namespace>/
    view["spec"]["materialization"]["enabled"] = False
    model = "churn"  # other tests' churn is another namespace's: another registered model
    registered = registered_model_name(namespace, model)
    kubectl.apply(yaml.safe_dump(view), "-n", namespace)
    kubectl.apply(
        yaml.safe_dump(_model_version("churn-v1", model, "churn_labels.parquet")), "-n", namespace
    )

    # The operator crashes while the run trains; the restarted one finds the run, not a new one.
    wait_for(lambda: _in_phase(kubectl, "churn-v1", namespace, "Training"), 60, "training")
    paved_operator.stop(crash=True)
    paved_operator.start()
    staged = wait_for_condition(
        kubectl, MV, "churn-v1", namespace, "GatesPassed", "True", timeout=240
    )
    status = staged["status"]
    assert (status["phase"], status["stage"]) == ("Staging", "Staging")
    assert status["gatesSummary"].startswith(
        f"{len(status['gates'])}/{len(status['gates'])} passed"
    )
    # Nothing serves yet: the first model is judged on the absolute floor, and says so.
    first = _gate(status, "metric:auc")
    assert first["message"].endswith("no reference: absolute floor 0.6000")
    assert not [g for g in status["gates"] if g["name"].startswith("drift:")]
    runs = list((paved_operator.state_dir / "runs").iterdir())
    assert [
        r.name
        for r in runs
        if (r / "key").read_text().startswith(f"{namespace}.{staged['metadata']['uid']}")
    ] == [status["run"]["id"]]

    client = MlflowClient(endpoints.mlflow)
    (version,) = client.search_model_versions(f"name = '{registered}'")
    assert (version.version, registered) == (
        status["registry"]["version"],
        status["registry"]["name"],
    )
    tags = version.tags
    assert tags[KEY_TAG] == status["run"]["key"]
    assert len(tags["paved.dataset_hash"]) == 64
    assert json.loads(tags["paved.feature_views"]) == {
        "user-activity-v1": status["lineage"]["featureViews"][0]["version"]
    }
    assert tags["paved.code_commit"] == "test-commit"
    assert tags["paved.pipeline_run"] == status["run"]["id"]
    assert client.get_model_version_by_alias(registered, "staging").version == version.version

    # v1 goes to production (a Rollout's job; done here through the registry), then v2,
    # trained on labels that are noise for new users, is compared with it and held.
    asyncio.run(
        MlflowRegistry(endpoints.mlflow).set_stage(registered, version.version, Stage.PRODUCTION)
    )
    kubectl.apply(
        yaml.safe_dump(_model_version("churn-v2", model, "churn_labels_v2.parquet")),
        "-n",
        namespace,
    )
    # The model is trained and the run goes on: evaluation and the gates are its last task.
    evaluating = wait_for(
        lambda: _in_phase(kubectl, "churn-v2", namespace, "Evaluating"), 240, "churn-v2 evaluating"
    )
    assert evaluating["status"]["run"]["state"] == "Running"
    trained = condition(evaluating, "Trained")
    assert trained is not None
    assert (trained["status"], trained["reason"]) == ("Unknown", "Evaluating")
    held = wait_for_condition(
        kubectl, MV, "churn-v2", namespace, "GatesPassed", "False", timeout=240
    )
    assert held["status"]["phase"] == "Held"
    gates = condition(held, "GatesPassed")
    assert gates is not None
    assert "slice new_users" in gates["message"]
    failed = {g["name"] for g in held["status"]["gates"] if g["verdict"] == "fail"}
    assert "slice:new_users" in failed
    # v2 is compared with v1, the version serving, scored on v2's own holdout.
    assert " vs churn-v1 " in _gate(held["status"], "metric:auc")["message"]
    assert "on the same holdout" in _gate(held["status"], "metric:auc")["message"]
    assert " vs churn-v1 " in _gate(held["status"], "slice:new_users")["message"]
    # Drift is judged against what serves; this view is not materialized, so the online store
    # holds nothing: each drift gate is inconclusive, and the condition and column say so.
    drift = [g for g in held["status"]["gates"] if g["name"].startswith("drift:")]
    assert drift
    assert {g["verdict"] for g in drift} == {"inconclusive"}
    assert f"{len(drift)} inconclusive" in held["status"]["gatesSummary"]
    assert f"inconclusive: {drift[0]['message']}" in gates["message"]
