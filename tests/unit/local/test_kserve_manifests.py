"""The KServe stand-in renders what KServe's controller and Knative run for an InferenceService:
a revision's Deployment and private Service under Knative's names and labels, the
`kserve-container` configured as the `kserve-mlserver` runtime configures MLServer, and KServe's
`storage-initializer`; only the revisions traffic may reach keep Pods (Knative scales the others
to zero). ADR 0033."""

from __future__ import annotations

from typing import Any

import pytest

from paved_local.kserve.manifests import kept, model_endpoint, plan
from paved_local.kserve.revisions import Revision, Revisions, reconcile
from paved_local.seldon.manifests import ModelServer

SERVER = ModelServer("ghcr.io/paved-dev/paved-model-server:1.7.1")
OLD, NEW = "s3://paved/models/churn/1", "s3://paved/models/churn/2"


def _service(uri: str = OLD, form: str = "mlflow") -> dict[str, Any]:
    model = {"modelFormat": {"name": form}, "storageUri": uri}
    return {
        "metadata": {"name": "churn", "namespace": "team-a", "uid": "u-1"},
        "spec": {"predictor": {"model": model}},
    }


def _ready(_: Revision) -> bool:
    return True


def _canary() -> Revisions:
    rolled_out = reconcile("churn", Revisions(), OLD, None, _ready)
    return reconcile("churn", rolled_out, NEW, 20, _ready)


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_a_revision_runs_mlserver_as_the_kserve_mlserver_runtime_does() -> None:
    revisions = reconcile("churn", Revisions(), OLD, None, _ready)

    deployment, service = plan(_service(), revisions, SERVER).children

    assert deployment["metadata"]["name"] == "churn-predictor-00001-deployment"
    assert deployment["metadata"]["labels"]["serving.kserve.io/inferenceservice"] == "churn"
    assert deployment["metadata"]["labels"]["serving.knative.dev/revision"] == (
        "churn-predictor-00001"
    )
    assert deployment["metadata"]["ownerReferences"][0]["kind"] == "InferenceService"
    pod = deployment["spec"]["template"]["spec"]
    (initializer,) = pod["initContainers"]
    assert initializer["name"] == "storage-initializer"
    assert initializer["args"] == [OLD, "/mnt/models"]
    (server,) = pod["containers"]
    assert server["name"] == "kserve-container"
    assert _env(server) == {
        "MLSERVER_MODEL_IMPLEMENTATION": "mlserver_mlflow.MLflowRuntime",
        "MLSERVER_MODEL_NAME": "churn",
        "MLSERVER_MODEL_URI": "/mnt/models",
        "MLSERVER_HTTP_PORT": "8080",
        "MLSERVER_GRPC_PORT": "9000",
        "OMP_NUM_THREADS": "1",
        "MLSERVER_PARALLEL_WORKERS": "0",
    }
    assert service["metadata"]["name"] == "churn-predictor-00001-private"
    assert service["spec"]["selector"] == {"serving.knative.dev/revision": "churn-predictor-00001"}
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    assert model_endpoint("team-a", "churn", "churn-predictor-00001") == (
        "http://churn-predictor-00001-private.team-a.svc/v2/models/churn/infer"
    )


def test_a_canary_keeps_both_revisions_pods_and_a_promotion_lets_the_old_one_go() -> None:
    canary = _canary()
    promoted = reconcile("churn", canary, NEW, None, _ready)
    rolled_again = reconcile("churn", promoted, OLD, None, _ready)

    assert [r.name for r in kept(canary)] == ["churn-predictor-00001", "churn-predictor-00002"]
    # The previous rolled-out revision stays (KServe's rollback target) until the next one.
    assert [r.name for r in kept(promoted)] == ["churn-predictor-00001", "churn-predictor-00002"]
    assert [r.name for r in kept(rolled_again)] == [
        "churn-predictor-00002",
        "churn-predictor-00003",
    ]


def test_a_revision_coming_up_has_pods_before_it_is_ready() -> None:
    rolled_out = reconcile("churn", Revisions(), OLD, None, _ready)
    coming = reconcile("churn", rolled_out, NEW, None, lambda r: r.model_uri == OLD)

    assert coming.latest_ready == "churn-predictor-00001"
    assert [r.name for r in kept(coming)] == ["churn-predictor-00001", "churn-predictor-00002"]


def test_a_registry_uri_or_a_format_without_a_runtime_gets_no_pod_and_says_why() -> None:
    registry = reconcile("churn", Revisions(), "models:/churn/2", None, _ready)
    refused = plan(_service("models:/churn/2"), registry, SERVER)
    unknown = plan(_service(form="onnx"), _canary(), SERVER)

    assert refused.children == ()
    assert refused.refused is not None
    assert "models:/churn/2" in refused.refused
    assert unknown.children == ()
    assert unknown.refused is not None
    assert "'onnx'" in unknown.refused


@pytest.mark.parametrize(
    ("form", "runtime"),
    [("lightgbm", "mlserver_lightgbm.LightGBMModel"), ("xgboost", "mlserver_xgboost.XGBoostModel")],
)
def test_the_gradient_boosting_formats_run_mlservers_own_runtimes(form: str, runtime: str) -> None:
    """kserve-mlserver's formats besides sklearn and mlflow."""
    revisions = reconcile("churn", Revisions(), OLD, None, _ready)

    planned = plan(_service(form=form), revisions, SERVER)

    assert planned.refused is None
    deployment = planned.children[0]
    (server,) = deployment["spec"]["template"]["spec"]["containers"]
    assert _env(server)["MLSERVER_MODEL_IMPLEMENTATION"] == runtime
