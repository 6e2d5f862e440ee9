"""Rankers rolled out by interleaving on the local data plane, judged by simulated users' clicks
through the real Prometheus: the trained churn model ranks a retention team's call list better
than a rule that ranks at random, wins its interleave step and, once signed off, becomes
production; against a ranker that knows the answers it loses, and is rolled back.

A ranker here is any model that scores candidates: a query is a few users to call, each model
scores them, its ranking is their order by score. A click is a call to a user who churns."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import mlflow
import pandas as pd
import yaml
from sklearn.compose import ColumnTransformer
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from paved.adapters.registry.mlflow import MlflowRegistry
from paved.api.rollout import Backend
from paved_local.dataplane.load import Example
from paved_local.platform import Endpoints, LocalPlatform
from tests.e2e.test_rollout_rolls_out_and_back import (  # noqa: F401 (trained: a fixture)
    Trained,
    _serving_object,
    trained,
)
from tests.e2e.test_rollout_rolls_out_and_back import _rollout as rollout_of
from tests.support.approvals import sign_off
from tests.support.churn_data import serving_examples
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.rankings import clicking_users
from tests.support.waiting import wait_for

ROLLOUT = "rollout.paved.dev"


def _oracle(endpoints: Endpoints, examples: list[Example]) -> str:
    """A ranker that knows the answers: its nearest neighbour among the very users the queries
    draw, with their labels (each query's user is its own neighbour). Registered, it is a
    baseline no honest model outranks."""
    frame = pd.DataFrame([e.features for e in examples])
    encode = ColumnTransformer(
        [("country", OneHotEncoder(), ["country"])], remainder=StandardScaler()
    )
    nearest = make_pipeline(encode, KNeighborsClassifier(n_neighbors=1, algorithm="brute"))
    nearest.fit(frame, [e.label for e in examples])
    mlflow.set_tracking_uri(endpoints.mlflow)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(nearest, name="model")
    name = f"oracle-{uuid.uuid4().hex[:6]}"
    registry = MlflowRegistry(endpoints.mlflow)
    return asyncio.run(registry.register(name, run.info.run_id, "oracle", {})).uri


def _deployment(name: str, baseline_uri: str) -> dict[str, Any]:
    return _serving_object(Backend.SELDON_DEPLOYMENT, name, baseline_uri)


def _rollout(name: str, deployment: str) -> dict[str, Any]:
    """The Rollout e2e's rollout of churn-v1 (an errorRate guardrail, analyses every 2 s), its
    steps an interleave step and full."""
    rollout = rollout_of(name, deployment, "1m")
    step = {"minimumDetectablePreference": 0.1, "maxDuration": "5m"}
    rollout["spec"]["steps"] = [{"interleave": step}, {"full": {}}]
    return rollout


def _served(endpoints: Endpoints, namespace: str) -> set[str]:
    """The deployments of `namespace` the data plane routes requests to now."""
    routes = httpx.get(f"{endpoints.dataplane}/v1/deployments", timeout=10).json()["routes"]
    return {r["deployment"] for r in routes if r["namespace"] == namespace}


def _status(kubectl: Kubectl, name: str, namespace: str) -> dict[str, Any]:
    status: dict[str, Any] = kubectl.get_json(ROLLOUT, name, "-n", namespace).get("status") or {}
    return status


def test_a_better_ranker_wins_its_interleaving_and_a_worse_one_is_rolled_back(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    trained: Trained,  # noqa: F811 (the fixture imported above)
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> None:
    namespace = trained.namespace
    examples = serving_examples(trained.data)
    better, worse = f"calls-{namespace}", f"oracle-{namespace}"
    kubectl.apply(
        yaml.safe_dump_all(
            [
                _deployment(better, trained.baseline_uri),  # one score for all: a random order
                _deployment(worse, _oracle(endpoints, examples)),
            ]
        ),
        "-n",
        namespace,
    )
    wait_for(
        lambda: _served(endpoints, namespace) >= {better, worse},
        timeout=120,
        what="the data plane to serve both deployments",
    )
    kubectl.apply(
        yaml.safe_dump_all([_rollout("beats-random", better), _rollout("meets-oracle", worse)]),
        "-n",
        namespace,
    )
    users = (endpoints.dataplane, namespace)
    with (
        clicking_users(*users, better, examples, seed=1) as against_random,
        clicking_users(*users, worse, examples, seed=2) as against_oracle,
    ):
        lost = wait_for(
            lambda: (
                (s := _status(kubectl, "meets-oracle", namespace)).get("phase") == "RolledBack"
                and s
            ),
            timeout=300,
            what="the worse ranker to be rolled back",
        )
        paused = wait_for_condition(
            kubectl,
            ROLLOUT,
            "beats-random",
            namespace,
            "Progressing",
            "True",
            timeout=300,
            reason="PromotionRefused",
        )
        sign_off(kubectl, local_platform, namespace, "churn-v1")
        promoted = wait_for(
            lambda: (
                (s := _status(kubectl, "beats-random", namespace)).get("phase") == "Succeeded" and s
            ),
            timeout=120,
            what="the better ranker to be promoted",
        )

    rolled_back = kubectl.get_json(ROLLOUT, "meets-oracle", "-n", namespace)
    progressing = condition(rolled_back, "Progressing") or {}
    assert progressing["reason"] == "InterleavingLoss", progressing
    assert "interleaving loss: candidate win rate" in progressing["message"]
    verdict = lost["interleaving"]
    assert verdict["outcome"] == "loss"
    assert verdict["high"] < 0.5
    assert verdict["losses"] > verdict["wins"]
    assert against_oracle.outcomes["loss"] > against_oracle.outcomes["win"]
    assert lost["traffic"] == {"baseline": 100, "candidate": 0, "shadow": False}
    spec = kubectl.get_json("seldondeployment", worse, "-n", namespace)["spec"]
    assert [p["name"] for p in spec["predictors"]] == ["baseline"]
    assert "paved.dev/interleave" not in (spec.get("annotations") or {})

    won = paused["status"]["interleaving"]
    assert won["outcome"] == "win"
    assert won["low"] > 0.5
    assert against_random.outcomes["win"] > against_random.outcomes["loss"]
    # Every query answered and every click attributed, through the step's start, its end and
    # the promotion.
    assert against_random.failed == 0
    assert against_oracle.failed == 0
    assert promoted["traffic"]["candidate"] == 100
    baseline = kubectl.get_json("seldondeployment", better, "-n", namespace)["spec"]["predictors"]
    assert [(p["name"], p["graph"]["modelUri"]) for p in baseline] == [
        ("baseline", trained.candidate_uri)
    ]
