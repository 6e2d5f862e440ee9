"""Interleaving on the local data plane, put in place by the Seldon router: a ranking request is
answered with the team-draft merge of both arms' rankings, its clicks are attributed to the arm
whose item was clicked, and the win/loss/tie counters reach the real Prometheus through the
router's metric observer."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import mlflow
import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from paved.adapters.kubernetes_api import api_client
from paved.adapters.metrics.prometheus import PrometheusMetrics
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.adapters.traffic.seldon_v1 import SeldonV1Router
from paved.api.rollout import SeldonDeploymentTarget
from paved.core.interleaving import Preference
from paved.core.rollout_steps import Traffic
from paved.core.serving import ServedModel
from paved_local.platform import Endpoints
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

ITEMS = {"a": -2.0, "b": -1.0, "c": 1.0, "d": 2.0}


def _ranker(endpoints: Endpoints, *, larger_first: bool) -> str:
    """A model whose scores grow with x (or fall with it): it ranks d, c, b, a (or a, b, c, d)."""
    mlflow.set_tracking_uri(endpoints.mlflow)
    x = np.linspace(-3, 3, 60).reshape(-1, 1)
    y = (x[:, 0] > 0) if larger_first else (x[:, 0] < 0)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LogisticRegression().fit(x, y.astype(int)), name="model")
    registry = MlflowRegistry(endpoints.mlflow)
    name = f"ranker-{uuid.uuid4().hex[:6]}"
    return asyncio.run(registry.register(name, run.info.run_id, uuid.uuid4().hex, {})).uri


@pytest.fixture(scope="module")
def rankers(endpoints: Endpoints) -> tuple[str, str]:
    """(down, up): the baseline ranks a first, the candidate d first."""
    return _ranker(endpoints, larger_first=False), _ranker(endpoints, larger_first=True)


def _rank(endpoints: Endpoints, namespace: str, request_id: str) -> httpx.Response:
    body = {
        "data": {"names": ["x"], "ndarray": [[x] for x in ITEMS.values()]},
        "meta": {"puid": request_id, "tags": {"items": list(ITEMS)}},
    }
    return httpx.post(
        f"{endpoints.dataplane}/seldon/{namespace}/search/api/v1.0/rank", json=body, timeout=10
    )


def _clicks(endpoints: Endpoints, namespace: str, request_id: str, clicked: list[int]) -> Any:
    return httpx.post(
        f"{endpoints.dataplane}/seldon/{namespace}/search/api/v1.0/clicks",
        json={"puid": request_id, "clicked": clicked},
        timeout=10,
    )


def test_an_interleaved_list_credits_each_click_to_the_arm_that_placed_the_item(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, rankers: tuple[str, str]
) -> None:
    down, up = rankers
    graph = {"name": "ranker", "modelUri": down}
    deployment = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "search"},
        "spec": {
            "annotations": {"seldon.io/rest-timeout": "5000"},  # a person's, left alone
            "predictors": [{"name": "baseline", "traffic": 100, "graph": graph}],
        },
    }
    kubectl.apply(yaml.safe_dump(deployment), "-n", namespace)
    target = SeldonDeploymentTarget(name="search")
    router = SeldonV1Router(api_client(str(endpoints.kubeconfig)), namespace, target)
    asyncio.run(router.apply(Traffic(50, 50, interleaved=True), ServedModel(up)))
    assert asyncio.run(router.observe(up)) == Traffic(50, 50, interleaved=True)

    def interleaved() -> dict[str, Any] | None:
        answer = _rank(endpoints, namespace, "warm-up")
        tags = answer.json()["meta"]["tags"] if answer.status_code == 200 else {}
        return answer.json() if tags.get("interleaved") else None

    wait_for(interleaved, timeout=60, what="the data plane to interleave")
    # `increase` counts from the first sample Prometheus scraped: queries answered before it
    # scrapes the outcomes' series at 0 would never show. Wait for that first sample.
    metrics = PrometheusMetrics(endpoints.prometheus)

    def counted(preference: Preference) -> float | None:
        promql = asyncio.run(router.interleaved_queries(preference, 120))
        return asyncio.run(metrics.value(promql))

    wait_for(
        lambda: all(counted(p) is not None for p in (Preference.WIN, Preference.LOSS)),
        timeout=60,
        what="Prometheus to scrape the outcome counts at 0",
    )
    outcomes = []
    for query in range(6):
        request_id = f"q-{query}"
        shown = _rank(endpoints, namespace, request_id).json()
        order = shown["data"]["ndarray"]
        assert shown["meta"]["puid"] == request_id
        assert sorted(order) == sorted(ITEMS)
        # A replay shows the same list: the request id seeds the draft.
        assert _rank(endpoints, namespace, request_id).json()["data"]["ndarray"] == order
        # The first item shown is the best of whichever arm picked first: d is the candidate's.
        expected = "win" if order[0] == "d" else "loss"
        assert order[0] in ("a", "d")
        answer = _clicks(endpoints, namespace, request_id, [0])
        assert answer.json() == {"puid": request_id, "outcome": expected}
        outcomes.append(expected)
    # Counted once: a second report for the same query is refused, naming it.
    again = _clicks(endpoints, namespace, "q-0", [0])
    assert again.status_code == 404
    assert "'q-0'" in again.json()["status"]["info"]
    assert _clicks(endpoints, namespace, "q-x", [9]).status_code == 404

    def shows_every_outcome() -> bool:
        return all(
            round(counted(p) or 0) == outcomes.count(p.value)
            for p in (Preference.WIN, Preference.LOSS)
        )

    wait_for(shows_every_outcome, timeout=60, what="the win and loss counts in Prometheus")

    # The step over: the annotation goes, the person's stays, and rankings are one arm's again.
    asyncio.run(router.apply(Traffic(100, 0), ServedModel(up)))
    spec = kubectl.get_json("seldondeployment", "search", "-n", namespace)["spec"]
    assert spec["annotations"] == {"seldon.io/rest-timeout": "5000"}
    wait_for(
        lambda: (
            _rank(endpoints, namespace, "after").json()["meta"]["tags"] == {"predictor": "baseline"}
        ),
        timeout=60,
        what="rankings from the baseline alone",
    )
    assert _rank(endpoints, namespace, "after").json()["data"]["ndarray"] == ["a", "b", "c", "d"]
