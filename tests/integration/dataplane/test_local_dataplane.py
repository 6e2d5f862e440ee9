"""The local data plane serves SeldonDeployments from MLflow like Seldon v1 does: requests split by
traffic and mirrored to the shadow, Seldon's executor metrics scraped by the real Prometheus,
feedback counted for the predictor that served, faults injected per model."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import httpx
import numpy as np
import yaml

from paved.adapters.metrics.prometheus import PrometheusMetrics
from paved.adapters.traffic.seldon_v1 import builtin_queries, counter_increase
from paved.api.rollout import BuiltinGuardrail
from paved.core.guardrails import score_drift
from paved_local.dataplane.load import Example, generate_load
from paved_local.platform import Endpoints
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for


def _deploy(kubectl: Kubectl, namespace: str, name: str, predictors: list[dict[str, Any]]) -> None:
    body = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name},
        "spec": {"predictors": predictors},
    }
    kubectl.apply(yaml.safe_dump(body), "-n", namespace)


def _predictor(name: str, uri: str, traffic: int, shadow: bool = False) -> dict[str, Any]:
    return {
        "name": name,
        "traffic": traffic,
        "shadow": shadow,
        "graph": {"name": "classifier", "modelUri": uri},
    }


def _served(endpoints: Endpoints, namespace: str, name: str, predictors: set[str]) -> bool:
    routes = httpx.get(f"{endpoints.dataplane}/v1/deployments").json()["routes"]
    return any(
        r["namespace"] == namespace
        and r["deployment"] == name
        and {p["name"] for p in r["live"]} | ({r["shadow"]} if r["shadow"] else set()) == predictors
        for r in routes
    )


def _predict(endpoints: Endpoints, namespace: str, name: str, x: float) -> httpx.Response:
    return httpx.post(
        f"{endpoints.dataplane}/seldon/{namespace}/{name}/api/v1.0/predictions",
        json={"data": {"names": ["x"], "ndarray": [[x]]}},
    )


def _prometheus(endpoints: Endpoints, query: str) -> float | None:
    return asyncio.run(PrometheusMetrics(endpoints.prometheus).value(query))


def test_requests_split_by_traffic_and_are_mirrored_to_the_shadow(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    low, high = models
    _deploy(
        kubectl,
        namespace,
        "split",
        [
            _predictor("baseline", low, 70),
            _predictor("candidate", high, 30),
            _predictor("shadow", high, 100, shadow=True),
        ],
    )
    wait_for(
        lambda: _served(endpoints, namespace, "split", {"baseline", "candidate", "shadow"}),
        timeout=60,
        what="the data plane to serve the deployment",
    )
    answers = [_predict(endpoints, namespace, "split", 2.0).json() for _ in range(300)]
    served = [a["meta"]["tags"]["predictor"] for a in answers]
    # 300 draws at 30%: 90 expected, ±5 standard deviations is [50, 130].
    assert 50 <= served.count("candidate") <= 130
    scores = {a["meta"]["tags"]["predictor"]: a["data"]["ndarray"][0] for a in answers}
    assert scores["candidate"] > 0.8 > 0.2 > scores["baseline"]
    every = builtin_queries(BuiltinGuardrail.ERROR_RATE, namespace, "split", "shadow", "5m").samples
    wait_for(
        lambda: (_prometheus(endpoints, every) or 0) >= 299,
        timeout=30,
        what="Prometheus to count every request mirrored to the shadow",
    )


def test_an_injected_error_rate_shows_in_the_error_rate_guardrail(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    low, _ = models
    faulty = low
    _deploy(kubectl, namespace, "faulty", [_predictor("baseline", faulty, 100)])
    wait_for(
        lambda: _served(endpoints, namespace, "faulty", {"baseline"}),
        timeout=60,
        what="the data plane to serve the deployment",
    )
    errors = builtin_queries(
        BuiltinGuardrail.ERROR_RATE, namespace, "faulty", "baseline", "1m"
    ).value
    # The data plane starts each predictor's series at zero, so the first errors count.
    failures = (
        "sum(seldon_api_executor_server_requests_seconds_count"
        f'{{namespace="{namespace}",deployment_name="faulty",code="500"}})'
    )
    wait_for(
        lambda: _prometheus(endpoints, failures) == 0.0,
        timeout=30,
        what="Prometheus to scrape the predictor's error series at zero",
    )
    fault = httpx.put(
        f"{endpoints.dataplane}/v1/faults", json={"modelUri": faulty, "errorRate": 1.0}
    )
    assert fault.status_code == 200, fault.text
    try:
        codes = {_predict(endpoints, namespace, "faulty", 1.0).status_code for _ in range(20)}
    finally:
        httpx.delete(f"{endpoints.dataplane}/v1/faults", params={"modelUri": faulty})
    assert codes == {500}
    wait_for(
        lambda: _prometheus(endpoints, errors) == 1.0,
        timeout=30,
        what="the error-rate guardrail query to read 100% errors",
    )
    assert _predict(endpoints, namespace, "faulty", 1.0).status_code == 200


def test_feedback_is_counted_for_the_predictor_that_served(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    low, high = models
    _deploy(
        kubectl,
        namespace,
        "ab",
        [_predictor("baseline", low, 50), _predictor("candidate", high, 50)],
    )
    wait_for(
        lambda: _served(endpoints, namespace, "ab", {"baseline", "candidate"}),
        timeout=60,
        what="the data plane to serve the deployment",
    )

    async def load() -> Any:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(4.0, stop.set)
        # Every example's label is 1: the high-scoring candidate is right, the baseline wrong.
        return await generate_load(
            endpoints.dataplane, namespace, "ab", [Example({"x": 2.0}, label=1)], rate=40, stop=stop
        )

    stats = asyncio.run(load())
    assert stats.failed == 0
    assert stats.rewards["candidate"] == stats.by_predictor["candidate"] > 0
    assert stats.rewards["baseline"] == 0
    rewarded = counter_increase(
        "seldon_api_model_feedback_reward_total", namespace, "ab", "candidate", 120
    )
    wait_for(
        lambda: (_prometheus(endpoints, rewarded) or 0) > 0,
        timeout=30,
        what="the candidate's rewards in Prometheus",
    )


def test_a_deployment_that_breaks_seldons_rules_is_refused_with_the_reason(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    low, high = models
    _deploy(kubectl, namespace, "broken", [_predictor("a", low, 60), _predictor("b", high, 30)])

    def refused() -> str | None:
        listed = httpx.get(f"{endpoints.dataplane}/v1/deployments").json()["refused"]
        mine = [r for r in listed if (r["namespace"], r["deployment"]) == (namespace, "broken")]
        return mine[0]["reason"] if mine else None

    reason = wait_for(refused, timeout=30, what="the data plane to refuse the deployment")
    assert "sums to 90" in reason
    answer = _predict(endpoints, namespace, "broken", 1.0)
    assert answer.status_code == 503
    assert "sums to 90" in answer.json()["status"]["info"]


def test_a_shadow_whose_scores_shift_is_seen_by_the_score_drift_guardrail(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    _, high = models
    _deploy(
        kubectl,
        namespace,
        "drift",
        [_predictor("baseline", high, 100), _predictor("shadow", high, 100, shadow=True)],
    )
    wait_for(
        lambda: _served(endpoints, namespace, "drift", {"baseline", "shadow"}),
        timeout=60,
        what="the data plane to serve the deployment",
    )
    # The same model, but its shadow build's scores come out 0.5 lower: a broken post-processing.
    httpx.put(
        f"{endpoints.dataplane}/v1/faults",
        json={"modelUri": high, "predictor": "shadow", "scoreShift": -0.5},
    ).raise_for_status()
    try:
        for x in np.linspace(-3, 3, 200):
            assert _predict(endpoints, namespace, "drift", float(x)).status_code == 200
    finally:
        httpx.delete(f"{endpoints.dataplane}/v1/faults", params={"modelUri": high})
    metrics = PrometheusMetrics(endpoints.prometheus)
    query = partial(builtin_queries, BuiltinGuardrail.SCORE_DRIFT, namespace, "drift")

    def drift() -> float | None:
        baseline = asyncio.run(metrics.vector(query("baseline", "5m").value, "le"))
        shadow = asyncio.run(metrics.vector(query("shadow", "5m").value, "le"))
        psi, samples = score_drift(baseline, shadow)
        return psi if psi is not None and samples >= 199 else None

    assert wait_for(drift, timeout=30, what="both score histograms in Prometheus") > 0.2
