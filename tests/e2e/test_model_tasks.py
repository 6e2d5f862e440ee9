"""A regression ModelVersion trains through the built-in pipeline, is gated on RMSE (lower is
better: its floor a ceiling) and registered with its lineage; a second version, compared with
the first on its own holdout with a relative epsilon, is held when its RMSE regresses. A
multiclass ModelVersion trains, is gated on macro-F1 and, served, answers each row's class
probabilities."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient

from paved.adapters.registry.mlflow import MlflowRegistry
from paved.api.model_version import Stage
from paved.core.model_versions import registered_model_name
from paved_local.platform import Endpoints
from tests.support.churn_data import write_churn_data, write_task_labels
from tests.support.conditions import wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.seldon import predictor, seldon_deployment
from tests.support.training import example, task_model_version
from tests.support.waiting import wait_for

MV = "modelversion.paved.dev"


def _gate(status: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(g for g in status["gates"] if g["name"] == name)
    return found


def _feature_view(paved_operator: RunningOperator, kubectl: Kubectl, namespace: str) -> None:
    data = paved_operator.data_root / namespace
    write_churn_data(data)
    write_task_labels(data)
    write_task_labels(data, noisy=True)
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"
    view["spec"]["materialization"]["enabled"] = False
    kubectl.apply(yaml.safe_dump(view), "-n", namespace)


def test_a_regression_trains_gates_on_rmse_and_registers(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    _feature_view(paved_operator, kubectl, namespace)
    kubectl.apply(yaml.safe_dump(task_model_version("regression", "spend-v1")), "-n", namespace)

    staged = wait_for_condition(
        kubectl, MV, "spend-v1", namespace, "GatesPassed", "True", timeout=300
    )
    status = staged["status"]
    assert (status["phase"], status["stage"]) == ("Staging", "Staging")
    # RMSE's floor is a ceiling: a first model is judged on it.
    rmse = _gate(status, "metric:rmse")
    assert rmse["verdict"] == "pass"
    assert rmse["value"] < 30.0
    assert rmse["message"].endswith("no reference: absolute floor 30.0000")
    assert _gate(status, "golden")["verdict"] == "pass"  # an expected value far above 1
    assert set(status["lineage"]["metrics"]) == {"rmse", "mae"}
    registered = registered_model_name(namespace, "spend")
    client = MlflowClient(endpoints.mlflow)
    (version,) = client.search_model_versions(f"name = '{registered}'")
    assert version.version == status["registry"]["version"]

    # v1 serves; v2 learnt from noise is compared with it on v2's holdout, 5% of v1's RMSE
    # allowed, and held.
    asyncio.run(
        MlflowRegistry(endpoints.mlflow).set_stage(registered, version.version, Stage.PRODUCTION)
    )
    worse = task_model_version("regression", "spend-v2", "spend_labels_noisy.parquet")
    worse["spec"]["gates"]["metric"] = {"name": "rmse", "maxRelativeRegression": 0.05}
    kubectl.apply(yaml.safe_dump(worse), "-n", namespace)
    held = wait_for_condition(
        kubectl, MV, "spend-v2", namespace, "GatesPassed", "False", timeout=300
    )
    assert held["status"]["phase"] == "Held"
    regressed = _gate(held["status"], "metric:rmse")
    assert regressed["verdict"] == "fail"
    assert " vs spend-v1 " in regressed["message"]
    assert "(5.00% of " in regressed["message"]


def test_a_multiclass_model_trains_gates_on_macro_f1_and_serves_each_class_probability(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    _feature_view(paved_operator, kubectl, namespace)
    trained = task_model_version("multiclass", "tier-v1")
    kubectl.apply(yaml.safe_dump(trained), "-n", namespace)

    staged = wait_for_condition(
        kubectl, MV, "tier-v1", namespace, "GatesPassed", "True", timeout=300
    )
    status = staged["status"]
    assert _gate(status, "metric:macroF1")["verdict"] == "pass"
    assert _gate(status, "golden")["verdict"] == "pass"  # the active user's tier is 2
    assert {"macroF1", "accuracy", "logLoss"} <= set(status["lineage"]["metrics"])

    # Served from its registry version's storage URI, as a Rollout would serve it.
    serving = seldon_deployment("tiers", predictor("main", status["registry"]["uri"]))
    kubectl.apply(yaml.safe_dump(serving), "-n", namespace)
    active = trained["spec"]["gates"]["golden"][0]["features"]
    names = list(active)
    body = {"data": {"names": names, "ndarray": [[active[n] for n in names]]}}
    url = f"{endpoints.dataplane}/seldon/{namespace}/tiers/api/v1.0/predictions"

    def answered() -> dict[str, Any] | None:
        response = httpx.post(url, json=body, timeout=30)
        return response.json() if response.status_code == 200 else None

    answer = wait_for(answered, timeout=180, what="the data plane to serve the model")
    assert answer["data"]["names"] == ["t:0", "t:1", "t:2"]
    (probabilities,) = answer["data"]["ndarray"]
    assert sum(probabilities) == pytest.approx(1.0)
    assert int(np.argmax(probabilities)) == 2
