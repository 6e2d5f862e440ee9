"""The Seldon v1 router against the real API server: splits applied server-side, read back."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from paved.adapters.kubernetes_api import api_client
from paved.adapters.traffic.seldon_v1 import SeldonV1Router
from paved.core.rollout_steps import Traffic
from paved.errors import PermanentError
from paved.ports.traffic import Route
from paved_local.platform import Endpoints
from tests.support.kubectl import Kubectl

CRD = Path(__file__).resolve().parents[3] / "operator" / "paved" / "local" / "crds"
CANDIDATE_URI = "models:/churn/2"


@pytest.fixture(scope="module")
def seldon_crd(kubectl: Kubectl) -> None:
    kubectl.run("apply", "-f", str(CRD / "seldondeployments.yaml"))
    kubectl.run("wait", "--for=condition=Established",
                "crd/seldondeployments.machinelearning.seldon.io", "--timeout=60s")  # fmt: skip


@pytest.fixture
def route(kubectl: Kubectl, namespace: str, seldon_crd: None) -> Route:
    deployment = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "churn"},
        "spec": {
            "predictors": [
                {"name": "baseline", "traffic": 100, "replicas": 2,
                 "graph": {"name": "classifier", "implementation": "MLFLOW_SERVER",
                           "modelUri": "models:/churn/1"}},
            ]
        },
    }  # fmt: skip
    kubectl.apply(yaml.safe_dump(deployment), "-n", namespace)
    return Route(namespace, "churn", "baseline", "candidate", "shadow")


@pytest.fixture
def router(endpoints: Endpoints) -> SeldonV1Router:
    return SeldonV1Router(api_client(str(endpoints.kubeconfig)))


def _predictors(kubectl: Kubectl, route: Route) -> dict[str, dict[str, object]]:
    found = kubectl.get_json("seldondeployment", route.deployment, "-n", route.namespace)
    return {p["name"]: p for p in found["spec"]["predictors"]}


def test_shadow_canary_and_rollback_are_applied_and_read_back(
    router: SeldonV1Router, route: Route, kubectl: Kubectl
) -> None:
    asyncio.run(router.apply(route, Traffic(100, 0, True), CANDIDATE_URI))
    assert asyncio.run(router.observe(route, CANDIDATE_URI)) == Traffic(100, 0, True)
    shadow = _predictors(kubectl, route)["shadow"]
    assert shadow["shadow"] is True
    assert shadow["graph"] == {"name": "classifier", "implementation": "MLFLOW_SERVER",
                               "modelUri": CANDIDATE_URI}  # fmt: skip

    asyncio.run(router.apply(route, Traffic(95, 5), CANDIDATE_URI))
    assert asyncio.run(router.observe(route, CANDIDATE_URI)) == Traffic(95, 5, False)
    predictors = _predictors(kubectl, route)
    assert set(predictors) == {"baseline", "candidate"}
    assert predictors["candidate"]["replicas"] == 2  # copied from the baseline's predictor
    assert predictors["baseline"]["graph"]["modelUri"] == "models:/churn/1"

    asyncio.run(router.apply(route, Traffic(100, 0), CANDIDATE_URI))
    assert asyncio.run(router.observe(route, CANDIDATE_URI)) == Traffic(100, 0, False)
    assert set(_predictors(kubectl, route)) == {"baseline"}
    stored = kubectl.get_json(
        "seldondeployment", "churn", "-n", route.namespace, "--show-managed-fields"
    )
    managers = stored["metadata"]["managedFields"]
    assert "paved" in {m["manager"] for m in managers}


def test_promotion_hands_the_baseline_predictor_the_candidates_model(
    router: SeldonV1Router, route: Route, kubectl: Kubectl
) -> None:
    asyncio.run(router.apply(route, Traffic(0, 100), CANDIDATE_URI))
    assert asyncio.run(router.observe(route, CANDIDATE_URI)) == Traffic(0, 100, False)
    asyncio.run(router.promote(route, CANDIDATE_URI))
    predictors = _predictors(kubectl, route)
    assert set(predictors) == {"baseline"}
    assert predictors["baseline"]["graph"]["modelUri"] == CANDIDATE_URI
    assert predictors["baseline"]["traffic"] == 100
    # Read by model, the promoted deployment still shows the candidate at 100%: a promotion
    # repeated after a crash sees its work done.
    assert asyncio.run(router.observe(route, CANDIDATE_URI)) == Traffic(0, 100, False)
    asyncio.run(router.promote(route, CANDIDATE_URI))
    assert set(_predictors(kubectl, route)) == {"baseline"}


def test_a_missing_deployment_or_baseline_predictor_is_named(
    router: SeldonV1Router, route: Route
) -> None:
    gone = Route(route.namespace, "fraud", "baseline", "candidate", "shadow")
    assert asyncio.run(router.observe(gone, CANDIDATE_URI)) is None
    with pytest.raises(PermanentError, match=r"SeldonDeployment .*/fraud does not exist"):
        asyncio.run(router.apply(gone, Traffic(95, 5), CANDIDATE_URI))
    renamed = Route(route.namespace, "churn", "main", "candidate", "shadow")
    with pytest.raises(PermanentError, match="has no predictor 'main' \\(it has: baseline\\)"):
        asyncio.run(router.apply(renamed, Traffic(95, 5), CANDIDATE_URI))
