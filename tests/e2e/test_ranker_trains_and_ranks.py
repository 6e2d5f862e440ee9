"""The ranking example end to end: a `task: ranking` ModelVersion names the team's LightGBM
LambdaRank pipeline by reference (its IR in a ConfigMap); paved joins the items' features to
the graded clicks point in time, runs the team's ranker, judges it per query on NDCG@10 and
registers it. Rolled out against the order search shows today (candidates as they come) by an
interleave step, it wins on simulated users' clicks, waits for sign-off, is promoted, and then
ranks each candidate list it is served."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import mlflow
import numpy as np
import yaml
from sklearn.dummy import DummyRegressor

from paved.adapters.registry.mlflow import MlflowRegistry
from paved_local.platform import Endpoints, LocalPlatform
from tests.e2e.test_team_pipeline_trains_and_is_gated import _config_map
from tests.support.approvals import sign_off
from tests.support.conditions import wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.ranking_data import item_examples, write_ranking_data
from tests.support.rankings import clicking_users, rank_candidates, serve_search
from tests.support.training import ROOT, example
from tests.support.waiting import wait_for

MV = "modelversion.paved.dev"
ROLLOUT = "rollout.paved.dev"
EXAMPLE = ROOT / "examples" / "ranking-pipeline"


def _apply_example(paved_operator: RunningOperator, kubectl: Kubectl, namespace: str) -> None:
    """The example's FeatureView, ConfigMap and ModelVersion, over `write_ranking_data`'s files
    under <data root>/<namespace>/."""
    write_ranking_data(paved_operator.data_root / namespace)
    view = example("ranking-pipeline/featureview.yaml")
    view["spec"]["source"]["path"] = "items/*.parquet"
    view["spec"]["materialization"]["enabled"] = False
    model = example("ranking-pipeline/modelversion.yaml")
    model["spec"]["labels"]["path"] = "search_labels.parquet"
    ir = (EXAMPLE / "search-lambdarank.yaml").read_text()
    kubectl.apply(_config_map("search-lambdarank", ir), "-n", namespace)
    kubectl.apply(yaml.safe_dump_all([view, model]), "-n", namespace)


def _todays_order(endpoints: Endpoints) -> str:
    """Search before the ranker: one score for every candidate, so they keep the order they
    come in (registered, as a serving baseline is)."""
    mlflow.set_tracking_uri(endpoints.mlflow)
    rule = DummyRegressor(strategy="constant", constant=0.0).fit(np.zeros((2, 1)), [0.0, 0.0])
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(rule, name="model")
    name = f"search-order-{uuid.uuid4().hex[:6]}"
    registry = MlflowRegistry(endpoints.mlflow)
    return asyncio.run(registry.register(name, run.info.run_id, "order", {})).uri


def _interleaved_rollout() -> dict[str, Any]:
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "search-ranker"},
        "spec": {
            "candidate": "search-ranker-v1",
            "target": {"seldonDeployment": {"name": "search"}},
            "steps": [
                {"interleave": {"minimumDetectablePreference": 0.1, "maxDuration": "5m"}},
                {"full": {}},
            ],
            "guardrails": [{"builtin": "errorRate", "max": 0.05}],
            "analysis": {"interval": "2s", "window": "20s", "minSamples": 5, "onNoData": "wait"},
        },
    }


def test_a_trained_ranker_wins_its_interleaving_is_promoted_and_ranks_what_it_is_served(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    namespace: str,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> None:
    _apply_example(paved_operator, kubectl, namespace)

    staged = wait_for_condition(
        kubectl, MV, "search-ranker-v1", namespace, "GatesPassed", "True", timeout=300
    )
    status = staged["status"]
    assert (status["phase"], status["stage"]) == ("Staging", "Staging")
    (metric,) = [g for g in status["gates"] if g["name"] == "metric:ndcg@10"]
    assert metric["verdict"] == "pass", metric
    assert status["lineage"]["metrics"]["ndcg@10"] > 0.7

    serve_search(kubectl, endpoints.dataplane, namespace, _todays_order(endpoints))
    kubectl.apply(yaml.safe_dump(_interleaved_rollout()), "-n", namespace)
    items = item_examples(paved_operator.data_root / namespace)
    with clicking_users(endpoints.dataplane, namespace, "search", items, seed=3) as users:
        won = wait_for_condition(
            kubectl,
            ROLLOUT,
            "search-ranker",
            namespace,
            "Progressing",
            "True",
            timeout=300,
            reason="PromotionRefused",  # it won; production waits for a sign-off
        )
        sign_off(kubectl, local_platform, namespace, "search-ranker-v1")
        wait_for(
            lambda: (
                kubectl.get_json(ROLLOUT, "search-ranker", "-n", namespace)["status"].get("phase")
                == "Succeeded"
            ),
            timeout=120,
            what="the ranker to be promoted",
        )

    verdict = won["status"]["interleaving"]
    assert verdict["outcome"] == "win", verdict
    assert verdict["low"] > 0.5
    assert users.outcomes["win"] > users.outcomes["loss"]
    assert users.failed == 0
    predictors = kubectl.get_json("seldondeployment", "search", "-n", namespace)["spec"]
    assert [p["graph"]["modelUri"] for p in predictors["predictors"]] == [status["registry"]["uri"]]
    for order in (["dull", "loved"], ["loved", "dull"]):
        answer = rank_candidates(endpoints.dataplane, namespace, order).json()
        assert answer["data"]["ndarray"] == ["loved", "dull"]
