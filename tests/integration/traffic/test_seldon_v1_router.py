"""The Seldon v1 router against the real API server: splits applied server-side, read back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
import yaml

from paved.adapters.kubernetes_api import api_client
from paved.adapters.traffic.seldon_v1 import SeldonV1Router
from paved.api.rollout import SeldonDeploymentTarget
from paved.core.rollout_steps import Traffic
from paved.core.serving import ServedModel
from paved.errors import PermanentError
from paved_local.platform import Endpoints
from tests.support.fixtures import SERVING_CRDS
from tests.support.kubectl import Kubectl

BASELINE_URI = "s3://paved/mlflow/1/models/m-1/artifacts"
CANDIDATE_URI = "s3://paved/mlflow/1/models/m-2/artifacts"
CANDIDATE = ServedModel(CANDIDATE_URI, "ml.churn", "2")
VERSION_OF_CANDIDATE = {"paved.dev/model": "ml.churn", "paved.dev/model-version": "2"}


@pytest.fixture(scope="module")
def seldon_crd(kubectl: Kubectl) -> None:
    kubectl.run("apply", "-f", str(SERVING_CRDS / "seldondeployments.yaml"))
    kubectl.run(
        "wait",
        "--for=condition=Established",
        "crd/seldondeployments.machinelearning.seldon.io",
        "--timeout=60s",
    )


@dataclass(frozen=True)
class Route:
    namespace: str
    deployment: str


@pytest.fixture
def route(kubectl: Kubectl, namespace: str, seldon_crd: None) -> Route:
    deployment = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": "churn"},
        "spec": {
            "predictors": [
                {
                    "name": "baseline",
                    "traffic": 100,
                    "replicas": 2,
                    "annotations": {"paved.dev/model": "ml.churn", "paved.dev/model-version": "1"},
                    "graph": {
                        "name": "classifier",
                        "implementation": "MLFLOW_SERVER",
                        "modelUri": BASELINE_URI,
                    },
                },
            ]
        },
    }
    kubectl.apply(yaml.safe_dump(deployment), "-n", namespace)
    return Route(namespace, "churn")


def _router(endpoints: Endpoints, namespace: str, **target: str) -> SeldonV1Router:
    chosen = SeldonDeploymentTarget.model_validate({"name": "churn", **target})
    return SeldonV1Router(api_client(str(endpoints.kubeconfig)), namespace, chosen)


@pytest.fixture
def router(endpoints: Endpoints, route: Route) -> SeldonV1Router:
    return _router(endpoints, route.namespace)


def _predictors(kubectl: Kubectl, route: Route) -> dict[str, dict[str, object]]:
    found = kubectl.get_json("seldondeployment", route.deployment, "-n", route.namespace)
    return {p["name"]: p for p in found["spec"]["predictors"]}


def test_shadow_canary_and_rollback_are_applied_and_read_back(
    router: SeldonV1Router, route: Route, kubectl: Kubectl
) -> None:
    asyncio.run(router.apply(Traffic(100, 0, True), CANDIDATE))
    assert asyncio.run(router.observe(CANDIDATE_URI)) == Traffic(100, 0, True)
    shadow = _predictors(kubectl, route)["shadow"]
    assert shadow["shadow"] is True
    assert shadow["graph"] == {
        "name": "classifier",
        "implementation": "MLFLOW_SERVER",
        "modelUri": CANDIDATE_URI,
    }
    # The registry version beside the storage URI: what lineage and reverts read back.
    assert shadow["annotations"] == VERSION_OF_CANDIDATE

    asyncio.run(router.apply(Traffic(95, 5), CANDIDATE))
    assert asyncio.run(router.observe(CANDIDATE_URI)) == Traffic(95, 5, False)
    predictors = _predictors(kubectl, route)
    assert set(predictors) == {"baseline", "candidate"}
    assert predictors["candidate"]["replicas"] == 2  # copied from the baseline's predictor
    assert predictors["baseline"]["graph"]["modelUri"] == BASELINE_URI
    assert predictors["candidate"]["annotations"] == VERSION_OF_CANDIDATE

    asyncio.run(router.apply(Traffic(100, 0), CANDIDATE))
    assert asyncio.run(router.observe(CANDIDATE_URI)) == Traffic(100, 0, False)
    assert set(_predictors(kubectl, route)) == {"baseline"}
    stored = kubectl.get_json(
        "seldondeployment", "churn", "-n", route.namespace, "--show-managed-fields"
    )
    managers = stored["metadata"]["managedFields"]
    assert "paved" in {m["manager"] for m in managers}


def test_promotion_hands_the_baseline_predictor_the_candidates_model(
    router: SeldonV1Router, route: Route, kubectl: Kubectl
) -> None:
    asyncio.run(router.apply(Traffic(0, 100), CANDIDATE))
    assert asyncio.run(router.observe(CANDIDATE_URI)) == Traffic(0, 100, False)
    asyncio.run(router.promote(CANDIDATE))
    predictors = _predictors(kubectl, route)
    assert set(predictors) == {"baseline"}
    assert predictors["baseline"]["graph"]["modelUri"] == CANDIDATE_URI
    assert predictors["baseline"]["annotations"] == VERSION_OF_CANDIDATE  # not version 1's
    assert predictors["baseline"]["traffic"] == 100
    # Read by model, the promoted deployment still shows the candidate at 100%: a promotion
    # repeated after a crash sees its work done.
    assert asyncio.run(router.observe(CANDIDATE_URI)) == Traffic(0, 100, False)
    asyncio.run(router.promote(CANDIDATE))
    assert set(_predictors(kubectl, route)) == {"baseline"}


def test_a_missing_deployment_or_baseline_predictor_is_named(
    endpoints: Endpoints, route: Route
) -> None:
    gone = _router(endpoints, route.namespace, name="fraud")
    assert asyncio.run(gone.observe(CANDIDATE_URI)) is None
    with pytest.raises(PermanentError, match=r"SeldonDeployment .*/fraud does not exist"):
        asyncio.run(gone.apply(Traffic(95, 5), CANDIDATE))
    renamed = _router(endpoints, route.namespace, baselinePredictor="main")
    with pytest.raises(PermanentError, match="has no predictor 'main' \\(it has: baseline\\)"):
        asyncio.run(renamed.apply(Traffic(95, 5), CANDIDATE))
