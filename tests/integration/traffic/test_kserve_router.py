"""The KServe router against the real API server, with the local data plane standing in for
KServe's controller (it writes the status KServe's would: the test holds it to that contract,
`tests/unit/dataplane/test_kserve.py` to KServe's documented canary rollout). Splits are applied
to `spec.predictor` server-side and read back from `status.components.predictor.traffic`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import yaml

from paved.adapters.kubernetes_api import api_client
from paved.adapters.traffic import IMPLEMENTATIONS, Implementation, KubernetesRouters
from paved.adapters.traffic.kserve import KServeRouter
from paved.api.rollout import Backend, BuiltinGuardrail, InferenceServiceTarget, Target
from paved.core.rollout_steps import Traffic
from paved.core.serving import Arm, ServedModel
from paved.errors import PermanentError
from paved.ports.traffic import Unroutable
from paved_local.platform import Endpoints
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

pytestmark = pytest.mark.usefixtures("paved_crds")


@pytest.fixture
def router(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> KServeRouter:
    service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "churn"},
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "model": {"modelFormat": {"name": "mlflow"}, "storageUri": models[0]},
            }
        },
    }
    kubectl.apply(yaml.safe_dump(service), "-n", namespace)
    served = KServeRouter(
        api_client(str(endpoints.kubeconfig)), namespace, InferenceServiceTarget(name="churn")
    )
    wait_for(
        lambda: asyncio.run(served.observe(models[1])) == Traffic(100, 0),
        timeout=60,
        what="the baseline's revision to take all traffic",
    )
    return served


def _shows(router: KServeRouter, candidate: str, split: Traffic) -> None:
    wait_for(
        lambda: asyncio.run(router.observe(candidate)) == split,
        timeout=60,
        what=f"the InferenceService's status to show {split}",
    )


def _moved(
    router: KServeRouter, kubectl: Kubectl, namespace: str, candidate: str, split: Traffic
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Apply `split`, wait until the status shows it, and read the predictor's spec and status."""
    asyncio.run(router.apply(split, ServedModel(candidate, "ml.churn", "2")))
    _shows(router, candidate, split)
    found = kubectl.get_json("inferenceservice", "churn", "-n", namespace)
    return found["spec"]["predictor"], found["status"]["components"]["predictor"]


def test_a_canary_moves_as_kserve_moves_it_and_rolls_back_to_the_previous_revision(
    router: KServeRouter, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    candidate = models[1]
    spec, status = _moved(router, kubectl, namespace, candidate, Traffic(80, 20))
    assert spec["canaryTrafficPercent"] == 20
    assert spec["model"] == {"modelFormat": {"name": "mlflow"}, "storageUri": candidate}
    assert spec["minReplicas"] == 1  # what paved does not own is left alone
    # The registry version beside the storage URI: what lineage and reverts read back.
    metadata = kubectl.get_json("inferenceservice", "churn", "-n", namespace)["metadata"]
    ours = {k: v for k, v in metadata["annotations"].items() if k.startswith("paved.dev/")}
    assert ours == {"paved.dev/model": "ml.churn", "paved.dev/model-version": "2"}
    assert {t["tag"]: t["percent"] for t in status["traffic"]} == {"prev": 80, "latest": 20}
    candidate_revision = status["latestReadyRevision"]
    # The guardrails read the arms' revisions, as the status names them.
    queries = asyncio.run(
        router.guardrail_queries(BuiltinGuardrail.ERROR_RATE, Arm.CANDIDATE, "1m")
    )
    assert f'revision_name="{candidate_revision}"' in queries.value
    baseline = asyncio.run(router.counter_increase("won_total", Arm.BASELINE, 60))
    assert f'revision_name="{status["latestRolledoutRevision"]}"' in baseline

    spec, status = _moved(router, kubectl, namespace, candidate, Traffic(100, 0))
    assert spec["canaryTrafficPercent"] == 0
    assert status["latestRolledoutRevision"] != candidate_revision  # pinned to the previous one
    stored = kubectl.get_json("inferenceservice", "churn", "-n", namespace, "--show-managed-fields")
    assert "paved" in {m["manager"] for m in stored["metadata"]["managedFields"]}


def test_promotion_clears_the_canary_so_the_candidates_revision_is_rolled_out(
    router: KServeRouter, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    candidate = models[1]
    _moved(router, kubectl, namespace, candidate, Traffic(50, 50))
    asyncio.run(router.promote(ServedModel(candidate)))
    _shows(router, candidate, Traffic(0, 100))
    found = kubectl.get_json("inferenceservice", "churn", "-n", namespace)
    spec, status = found["spec"]["predictor"], found["status"]["components"]["predictor"]
    assert "canaryTrafficPercent" not in spec
    assert status["latestRolledoutRevision"] == status["latestReadyRevision"]
    assert status["previousRolledoutRevision"].endswith("-00001")
    # Repeated after a crash, the promotion finds its work done.
    asyncio.run(router.promote(ServedModel(candidate)))
    assert asyncio.run(router.observe(candidate)) == Traffic(0, 100)


def test_a_missing_inference_service_is_named(endpoints: Endpoints, namespace: str) -> None:
    gone = KServeRouter(
        api_client(str(endpoints.kubeconfig)), namespace, InferenceServiceTarget(name="fraud")
    )
    assert asyncio.run(gone.observe("s3://paved/fraud/2")) is None
    with pytest.raises(PermanentError, match=r"InferenceService .*/fraud does not exist"):
        asyncio.run(gone.apply(Traffic(95, 5), ServedModel("s3://paved/fraud/2")))


def test_the_router_is_picked_per_target_and_an_uninstalled_or_unknown_backend_is_said(
    endpoints: Endpoints, namespace: str
) -> None:
    api = api_client(str(endpoints.kubeconfig))
    on_kserve = Target(inference_service=InferenceServiceTarget(name="churn"))
    picked = asyncio.run(KubernetesRouters(api).router_for(namespace, on_kserve))
    assert isinstance(picked, KServeRouter)
    assert picked.described == "InferenceService churn"

    elsewhere = Implementation("kserve", "KServeRouter", "serving.nowhere.example", "v1", "isvcs")
    uninstalled = KubernetesRouters(api, {Backend.INFERENCE_SERVICE: elsewhere})
    refused = asyncio.run(uninstalled.router_for(namespace, on_kserve))
    assert isinstance(refused, Unroutable)
    assert refused.reason == "BackendNotInstalled"
    assert "serving.nowhere.example/v1" in refused.message

    seldon_only = {Backend.SELDON_DEPLOYMENT: IMPLEMENTATIONS[Backend.SELDON_DEPLOYMENT]}
    unknown = asyncio.run(KubernetesRouters(api, seldon_only).router_for(namespace, on_kserve))
    assert unknown == Unroutable(
        "BackendUnknown", "This operator has no router for InferenceService."
    )
