"""The local data plane serves InferenceServices from MLflow as KServe does: v1 and v2 (open
inference protocol) requests addressed by Host, split between the previous rolled-out revision
and the latest at canaryTrafficPercent, counted in Knative's revision metrics that the real
Prometheus scrapes and the KServe router's guardrail queries read."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import yaml

from paved.adapters.traffic import kserve
from paved.api.rollout import Backend, BuiltinGuardrail
from paved_local.dataplane.load import Example, generate_load
from paved_local.platform import Endpoints
from tests.integration.dataplane.test_local_dataplane import _prometheus
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for


def _serve(kubectl: Kubectl, namespace: str, uri: str, canary: int | None = None) -> None:
    predictor: dict[str, Any] = {"model": {"modelFormat": {"name": "mlflow"}, "storageUri": uri}}
    if canary is not None:
        predictor["canaryTrafficPercent"] = canary
    service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "churn"},
        "spec": {"predictor": predictor},
    }
    kubectl.apply(yaml.safe_dump(service), "-n", namespace)


def _split(endpoints: Endpoints, namespace: str) -> dict[str, int]:
    listed = httpx.get(f"{endpoints.dataplane}/v1/inferenceservices").json()["services"]
    return next(
        (
            {r["name"]: r["percent"] for r in s["revisions"]}
            for s in listed
            if (s["namespace"], s["name"]) == (namespace, "churn")
        ),
        {},
    )


def _host(namespace: str) -> dict[str, str]:
    return {"Host": f"churn.{namespace}.example.com"}


def test_v1_and_v2_requests_split_between_the_previous_and_the_latest_revision(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    low, high = models
    _serve(kubectl, namespace, low)
    first = "churn-predictor-00001"
    wait_for(
        lambda: _split(endpoints, namespace) == {first: 100},
        timeout=60,
        what="the first revision to take all traffic",
    )
    v1 = httpx.post(
        f"{endpoints.dataplane}/v1/models/churn:predict",
        headers=_host(namespace),
        json={"instances": [{"x": 2.0}, {"x": -2.0}]},
    )
    assert v1.status_code == 200, v1.text
    assert len(v1.json()["predictions"]) == 2
    elsewhere = httpx.post(
        f"{endpoints.dataplane}/v1/models/churn:predict",
        headers={"Host": "churn.nowhere.example.com"},
        json={"instances": [{"x": 2.0}]},
    )
    assert elsewhere.status_code == 404

    _serve(kubectl, namespace, high, canary=30)
    second = "churn-predictor-00002"
    wait_for(
        lambda: _split(endpoints, namespace) == {first: 70, second: 30},
        timeout=60,
        what="the canary's split",
    )
    body = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [2.0]}]}
    answers = [
        httpx.post(
            f"{endpoints.dataplane}/v2/models/churn/infer", headers=_host(namespace), json=body
        ).json()
        for _ in range(200)
    ]
    versions = [a["model_version"] for a in answers]
    # 200 draws at 30%: 60 expected, ±5 standard deviations is [28, 92].
    assert 28 <= versions.count(second) <= 92
    assert {a["outputs"][0]["name"] for a in answers} == {"output-0"}
    # Knative's request count, read by the KServe router's own query for the latest revision.
    samples = kserve.builtin_queries(
        BuiltinGuardrail.ERROR_RATE, namespace, "churn", second, "5m"
    ).samples
    wait_for(
        lambda: (_prometheus(endpoints, samples) or 0) >= versions.count(second) - 1,
        timeout=30,
        what="Prometheus to count the latest revision's requests",
    )

    status = kubectl.get_json("inferenceservice", "churn", "-n", namespace)["status"]
    predictor = status["components"]["predictor"]
    assert predictor["latestReadyRevision"] == second
    assert predictor["latestRolledoutRevision"] == first
    assert status["url"] == f"http://churn.{namespace}.example.com"


def test_a_failing_revision_shows_in_the_error_rate_and_outcomes_count_per_revision(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    low, high = models
    _serve(kubectl, namespace, low)
    wait_for(
        lambda: _split(endpoints, namespace) == {"churn-predictor-00001": 100},
        timeout=60,
        what="the first revision to take all traffic",
    )
    _serve(kubectl, namespace, high, canary=50)
    latest = "churn-predictor-00002"
    wait_for(
        lambda: _split(endpoints, namespace).get(latest) == 50,
        timeout=60,
        what="the canary's split",
    )
    errors = kserve.builtin_queries(BuiltinGuardrail.ERROR_RATE, namespace, "churn", latest, "1m")
    httpx.put(
        f"{endpoints.dataplane}/v1/faults", json={"modelUri": high, "errorRate": 1.0}
    ).raise_for_status()

    async def load() -> Any:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(4.0, stop.set)
        return await generate_load(
            endpoints.dataplane,
            namespace,
            "churn",
            [Example({"x": 2.0}, label=1)],
            rate=40,
            stop=stop,
            backend=Backend.INFERENCE_SERVICE,
        )

    try:
        stats = asyncio.run(load())
    finally:
        httpx.delete(f"{endpoints.dataplane}/v1/faults", params={"modelUri": high})
    assert stats.failed > 0  # the latest revision's half
    assert stats.by_predictor["churn-predictor-00001"] > 0
    wait_for(
        lambda: _prometheus(endpoints, errors.value) == 1.0,
        timeout=30,
        what="the error-rate guardrail to read the latest revision failing every request",
    )
    rewarded = kserve.counter_increase(
        "paved_outcome_total", namespace, "churn-predictor-00001", 120
    )
    wait_for(
        lambda: (_prometheus(endpoints, rewarded) or 0) > 0,
        timeout=30,
        what="the previous revision's outcomes in Prometheus",
    )
