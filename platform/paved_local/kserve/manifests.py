"""What KServe's controller and Knative run for an InferenceService's predictor, as pure functions.

KServe turns each new `storageUri` into a Knative revision (`<name>-predictor-00002`); Knative
runs a revision as the Deployment `<revision>-deployment` and reaches its Pods through the
Service `<revision>-private`. An `mlflow` or `sklearn` model with the `kserve-mlserver` runtime
runs MLServer in the container `kserve-container` (`MLSERVER_MODEL_NAME` the InferenceService's
name, `MLSERVER_MODEL_IMPLEMENTATION` the runtime's modelClass for the format, HTTP 8080,
gRPC 9000), after KServe's `storage-initializer` init container fetched the model into
`/mnt/models`. Knative scales a revision no route sends traffic to down to zero: the stand-in
keeps a Deployment only for the revisions that serve or are coming up. ADR 0033.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from paved_local.kserve.revisions import Revision, Revisions
from paved_local.seldon.manifests import (
    ModelServer,
    mlserver_container,
    model_server_pod,
    storage_initializer,
)
from paved_local.seldon.storage_uris import refusal

API_VERSION: Final = "serving.kserve.io/v1beta1"
HTTP_PORT: Final = 8080  # kserve-mlserver's MLSERVER_HTTP_PORT
GRPC_PORT: Final = 9000  # kserve-mlserver's MLSERVER_GRPC_PORT
SERVICE_PORT: Final = 80  # Knative's private Service port
CONTAINER: Final = "kserve-container"
VOLUME: Final = "kserve-provision-location"
# kserve-mlserver's supported formats → the `modelClass` label KServe passes to MLServer.
RUNTIMES: Final = {
    "lightgbm": "mlserver_lightgbm.LightGBMModel",
    "mlflow": "mlserver_mlflow.MLflowRuntime",
    "sklearn": "mlserver_sklearn.SKLearnModel",
    "xgboost": "mlserver_xgboost.XGBoostModel",
}
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": "kserve-controller-manager"}


@dataclass(frozen=True)
class Planned:
    """The children of one InferenceService, or why the stand-in will not create them."""

    children: tuple[dict[str, Any], ...] = ()
    refused: str | None = None


def deployment_name(revision: str) -> str:
    return f"{revision}-deployment"  # Knative's name for a revision's Deployment


def service_name(revision: str) -> str:
    return f"{revision}-private"  # Knative's Service straight to a revision's Pods


def model_endpoint(namespace: str, name: str, revision: str) -> str:
    """The V2 inference URL of one revision's model server."""
    return f"http://{service_name(revision)}.{namespace}.svc/v2/models/{name}/infer"


def model_format(service: Mapping[str, Any]) -> str:
    model = ((service.get("spec") or {}).get("predictor") or {}).get("model") or {}
    return str((model.get("modelFormat") or {}).get("name") or "")


def service_refusal(service: Mapping[str, Any], revisions: Revisions) -> str | None:
    """Why the stand-in cannot serve `service`'s latest revision, or None."""
    form = model_format(service)
    if form not in RUNTIMES:
        known = ", ".join(RUNTIMES)
        return f"model format {form!r} has no MLServer runtime here (one of {known})"
    if not revisions.created:
        return None
    return refusal(revisions.created[-1].model_uri)


def kept(revisions: Revisions) -> list[Revision]:
    """The revisions with Pods: the one coming up and those traffic may go to."""
    serving = {revisions.latest_ready, revisions.latest_rolledout, revisions.previous_rolledout}
    latest = revisions.created[-1].name if revisions.created else None
    return [r for r in revisions.created if r.name in serving or r.name == latest]


def plan(service: Mapping[str, Any], revisions: Revisions, server: ModelServer) -> Planned:
    """Every kept revision's Deployment and Service, or why none is made."""
    why = service_refusal(service, revisions)
    if why is not None:
        return Planned(refused=why)
    children: list[dict[str, Any]] = []
    for revision in kept(revisions):
        children.append(revision_deployment(service, revision, server))
        children.append(revision_service(service, revision))
    return Planned(tuple(children))


def _metadata(service: Mapping[str, Any], name: str, revision: str) -> dict[str, Any]:
    """A child's metadata: KServe's and Knative's labels, owned by the InferenceService."""
    meta = service["metadata"]
    owner = {
        "apiVersion": API_VERSION,
        "kind": "InferenceService",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "name": name,
        "namespace": meta["namespace"],
        "labels": labels(service, revision),
        "ownerReferences": [owner],
    }


def labels(service: Mapping[str, Any], revision: str) -> dict[str, str]:
    return {
        "serving.kserve.io/inferenceservice": str(service["metadata"]["name"]),
        "component": "predictor",
        "serving.knative.dev/revision": revision,
        "app": revision,
        **MANAGED_BY,
    }


def revision_deployment(
    service: Mapping[str, Any], revision: Revision, server: ModelServer
) -> dict[str, Any]:
    """One revision's model server: KServe's storage initializer, then MLServer."""
    name = str(service["metadata"]["name"])
    env = {
        "MLSERVER_MODEL_IMPLEMENTATION": RUNTIMES[model_format(service)],
        "MLSERVER_MODEL_NAME": name,
        "MLSERVER_MODEL_URI": "/mnt/models",
        "MLSERVER_HTTP_PORT": str(HTTP_PORT),
        "MLSERVER_GRPC_PORT": str(GRPC_PORT),
    }
    initializer = storage_initializer(
        name="storage-initializer",
        uri=revision.model_uri,
        secret=server.env_secret,
        server=server,
        volume=VOLUME,
    )
    container = mlserver_container(
        name=CONTAINER, env=env, server=server, volume=VOLUME, ports=(HTTP_PORT, GRPC_PORT)
    )
    selector = {"serving.knative.dev/revision": revision.name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(service, deployment_name(revision.name), revision.name),
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels(service, revision.name)},
                "spec": model_server_pod(initializer=initializer, server=container, volume=VOLUME),
            },
        },
    }


def revision_service(service: Mapping[str, Any], revision: Revision) -> dict[str, Any]:
    port = {"name": "http", "protocol": "TCP", "port": SERVICE_PORT, "targetPort": HTTP_PORT}
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(service, service_name(revision.name), revision.name),
        "spec": {
            "type": "ClusterIP",
            "selector": {"serving.knative.dev/revision": revision.name},
            "ports": [port],
        },
    }
