"""What Seldon Core v1's controller creates for a SeldonDeployment, as pure functions.

For each predictor whose graph is one prepackaged model server (`MLFLOW_SERVER`,
`SKLEARN_SERVER`), Seldon creates a Deployment of MLServer (its V2 prepackaged servers) with the
storage initializer as an init container, and a Service in front of the model's container. The
names, labels, ports, init container and environment below are Seldon's
(`operator/apis/machinelearning.seldon.io/v1/seldondeployment_types.go`, `controllers/
mlserver.go`, `controllers/model_initializer_injector.go`); the unit tests compare them with
that shape. What the stand-in leaves out is said in ADR 0032: the
executor container (the data plane plays it), Istio/Ambassador objects, HPAs, graphs of more
than one node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from paved_local.seldon.storage_uris import refusal

API_VERSION: Final = "machinelearning.seldon.io/v1"
MODEL_MOUNT: Final = "/mnt/models"  # Seldon's DefaultModelLocalMountPath
HTTP_PORT: Final = 9000  # Seldon's MLServerDefaultHttpPort
GRPC_PORT: Final = 9500  # Seldon's MLServerDefaultGrpcPort
METRICS_PORT: Final = 8082  # MLServer's own metrics port (MLSERVER_METRICS_PORT's default)
# Seldon's prepackaged server → the MLServer runtime it runs under the V2 protocol (Seldon Core
# v1 has no LightGBM server: a LightGBM model is served as MLflow's pyfunc, which loads it).
RUNTIMES: Final = {
    "MLFLOW_SERVER": "mlserver_mlflow.MLflowRuntime",
    "SKLEARN_SERVER": "mlserver_sklearn.SKLearnModel",
    "XGBOOST_SERVER": "mlserver_xgboost.XGBoostModel",
}
# The storage initializer's entry point: KServe's `Storage.download(uri, dest)`, the logic of
# its storage-initializer image, called with Seldon's arguments [uri, /mnt/models].
INITIALIZE: Final = (
    "import sys; from kserve_storage import Storage; Storage.download(*sys.argv[1:3])"
)
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": "seldon-core"}


@dataclass(frozen=True)
class ModelServer:
    """The image a predictor's model server and its storage initializer run, and the Secret
    whose variables the initializer gets when the graph names none (Seldon's
    PREDICTIVE_UNIT_DEFAULT_ENV_SECRET_REF_NAME)."""

    image: str
    env_secret: str = "seldon-init-container-secret"
    pull_policy: str = "IfNotPresent"


@dataclass(frozen=True)
class Planned:
    """One predictor: its Deployment and Service, or why the stand-in will not create them."""

    predictor: str
    deployment: dict[str, Any] | None = None
    service: dict[str, Any] | None = None
    refused: str | None = None


def _bounded(name: str) -> str:
    """Seldon's rule for a name past Kubernetes' 63 characters: `seldon-<md5 of it>`."""
    return name if len(name) <= 63 else "seldon-" + hashlib.md5(name.encode()).hexdigest()


def seldon_id(deployment: str) -> str:
    """Seldon's GetSeldonDeploymentName: the `seldon-deployment-id` label's value."""
    return _bounded(deployment)


def predictor_key(deployment: str, predictor: str) -> str:
    return _bounded(f"{deployment}-{predictor}")


def deployment_name(deployment: str, predictor: str, container: str) -> str:
    """Seldon's GetDeploymentName for the first component spec (index 0)."""
    return _bounded(f"{deployment}-{predictor}-0-{container}")


def service_name(deployment: str, predictor: str, container: str) -> str:
    """Seldon's GetContainerServiceName: the Service in front of one model's container."""
    return _bounded(f"{deployment}-{predictor}-{container}")


def predictor_refusal(predictor: Mapping[str, Any]) -> str | None:
    """Why the stand-in cannot serve this predictor, or None."""
    name = predictor.get("name")
    graph = predictor.get("graph") or {}
    implementation = graph.get("implementation")
    if graph.get("children"):
        return f"predictor {name!r}: a graph of more than one node is not served here"
    if implementation not in RUNTIMES:
        known = ", ".join(RUNTIMES)
        return f"predictor {name!r}: implementation {implementation!r} is not one of {known}"
    if not graph.get("modelUri"):
        return f"predictor {name!r} has no graph.modelUri"
    why = refusal(str(graph["modelUri"]))
    return None if why is None else f"predictor {name!r}: {why}"


def plan(sdep: Mapping[str, Any], server: ModelServer) -> list[Planned]:
    """Every predictor of `sdep`, each as Seldon would create it or refused with why."""
    planned = []
    for predictor in (sdep.get("spec") or {}).get("predictors") or []:
        why = predictor_refusal(predictor)
        if why is not None:
            planned.append(Planned(str(predictor.get("name")), refused=why))
            continue
        planned.append(
            Planned(
                str(predictor["name"]),
                deployment=model_deployment(sdep, predictor, server),
                service=model_service(sdep, predictor),
            )
        )
    return planned


def _names(sdep: Mapping[str, Any], predictor: Mapping[str, Any]) -> tuple[str, str, str, str]:
    """The SeldonDeployment's id, the predictor's key, the model container and its Service."""
    container = str(predictor["graph"]["name"])
    name = str(sdep["metadata"]["name"])
    return (
        seldon_id(name),
        predictor_key(name, predictor["name"]),
        container,
        service_name(name, predictor["name"], container),
    )


def _metadata(sdep: Mapping[str, Any], name: str, labels: dict[str, str]) -> dict[str, Any]:
    """A child object's metadata: owned by the SeldonDeployment, so deleting it cleans up."""
    owner = {
        "apiVersion": API_VERSION,
        "kind": "SeldonDeployment",
        "name": sdep["metadata"]["name"],
        "uid": sdep["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }
    return {
        "name": name,
        "namespace": sdep["metadata"]["namespace"],
        "labels": labels,
        "ownerReferences": [owner],
    }


def _labels(sdep: Mapping[str, Any], predictor: Mapping[str, Any]) -> dict[str, str]:
    """Seldon's labels on a model's Deployment and its Pods (labels.go, createContainerService)."""
    sid, key, container, service = _names(sdep, predictor)
    labels = {
        **{str(k): str(v) for k, v in (predictor.get("labels") or {}).items()},
        "app": deployment_name(str(sdep["metadata"]["name"]), predictor["name"], container),
        "seldon-app": key,
        "seldon-app-svc": service,
        "seldon-deployment-id": sid,
        "seldon.io/model": "true",
        **MANAGED_BY,
    }
    if predictor.get("shadow"):
        labels["seldon.io/shadow"] = "true"
    return labels


def model_deployment(
    sdep: Mapping[str, Any], predictor: Mapping[str, Any], server: ModelServer
) -> dict[str, Any]:
    """The model server's Deployment: the storage initializer fetches `graph.modelUri` into
    an emptyDir at /mnt/models, then MLServer serves it over the V2 protocol."""
    sid, _, container, service = _names(sdep, predictor)
    labels = _labels(sdep, predictor)
    name = deployment_name(str(sdep["metadata"]["name"]), predictor["name"], container)
    replicas = predictor.get("replicas", (sdep.get("spec") or {}).get("replicas", 1))
    volume = f"{container}-provision-location"
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _metadata(sdep, name, labels),
        "spec": {
            "replicas": 1 if replicas is None else int(replicas),
            "selector": {"matchLabels": {"seldon-app-svc": service, "seldon-deployment-id": sid}},
            "template": {
                "metadata": {
                    "labels": labels,
                    # MLServer's own metrics, for a Prometheus that finds Pods by annotation.
                    "annotations": {
                        "prometheus.io/scrape": "true",
                        "prometheus.io/port": str(METRICS_PORT),
                        "prometheus.io/path": "/metrics",
                    },
                },
                "spec": model_server_pod(
                    initializer=_initializer(predictor, server, container=container, volume=volume),
                    server=_model_server(
                        sdep, predictor, server, container=container, volume=volume
                    ),
                    volume=volume,
                ),
            },
        },
    }


_RESTRICTED: Final = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}


def model_server_pod(
    *, initializer: dict[str, Any], server: dict[str, Any], volume: str
) -> dict[str, Any]:
    """A model server's Pod: the storage initializer fills `volume`, then the server serves it."""
    return {
        "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
        "initContainers": [initializer],
        "containers": [server],
        "volumes": [{"name": volume, "emptyDir": {}}],
    }


def storage_initializer(
    *, name: str, uri: str, secret: str, server: ModelServer, volume: str
) -> dict[str, Any]:
    """The init container that fetches `uri` into the model mount, as KServe's storage
    initializer does ([uri, /mnt/models] as arguments), credentials from `secret`."""
    return {
        "name": name,
        "image": server.image,
        "imagePullPolicy": server.pull_policy,
        "command": ["python", "-c", INITIALIZE],
        "args": [uri, MODEL_MOUNT],
        "envFrom": [{"secretRef": {"name": secret}}],
        "env": [{"name": "HOME", "value": "/tmp"}],
        "volumeMounts": [{"name": volume, "mountPath": MODEL_MOUNT}],
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "securityContext": _RESTRICTED,
    }


def _initializer(
    predictor: Mapping[str, Any], server: ModelServer, *, container: str, volume: str
) -> dict[str, Any]:
    """Seldon's injected init container: named after the model's container, the storage
    credentials from the graph's envSecretRefName (or the controller's default)."""
    return storage_initializer(
        name=f"{container}-model-initializer",
        uri=str(predictor["graph"]["modelUri"]),
        secret=predictor["graph"].get("envSecretRefName") or server.env_secret,
        server=server,
        volume=volume,
    )


def _model_server(
    sdep: Mapping[str, Any],
    predictor: Mapping[str, Any],
    server: ModelServer,
    *,
    container: str,
    volume: str,
) -> dict[str, Any]:
    """MLServer as Seldon's getMLServerContainer configures it (env, ports, probes)."""
    env = {
        "MLSERVER_HTTP_PORT": str(HTTP_PORT),
        "MLSERVER_GRPC_PORT": str(GRPC_PORT),
        "MLSERVER_MODEL_IMPLEMENTATION": RUNTIMES[predictor["graph"]["implementation"]],
        "MLSERVER_MODEL_NAME": container,
        "MLSERVER_MODEL_VERSION": "v1",
        "MLSERVER_MODEL_URI": MODEL_MOUNT,
        "PREDICTIVE_UNIT_ID": container,
        "PREDICTOR_ID": str(predictor["name"]),
        "SELDON_DEPLOYMENT_ID": str(sdep["metadata"]["name"]),
    }
    return mlserver_container(
        name=container, env=env, server=server, volume=volume, ports=(HTTP_PORT, GRPC_PORT)
    )


def mlserver_container(
    *, name: str, env: Mapping[str, str], server: ModelServer, volume: str, ports: tuple[int, int]
) -> dict[str, Any]:
    """MLServer serving the model mount, on the (HTTP, gRPC) `ports` its `env` names."""

    def probe(path: str, delay: int) -> dict[str, Any]:
        return {
            "httpGet": {"path": path, "port": "http"},
            "initialDelaySeconds": delay,
            "periodSeconds": 5,
        }

    http, grpc = ports
    # One OpenMP thread per scoring call, as the local data plane scores: a one-row call spends
    # more time waking a pool of threads than scoring, and on a busy node the pool's threads spin
    # against everything else. Inference in MLServer's own process (no worker pool): no pickling
    # of each request to a worker; a Pod scales by replicas. Measured on a gradient-boosted
    # pipeline at 40 requests/s: p99 99 ms as shipped, 26 ms with one thread, 19 ms with both.
    env = {**env, "OMP_NUM_THREADS": "1", "MLSERVER_PARALLEL_WORKERS": "0"}
    return {
        "name": name,
        "image": server.image,
        "imagePullPolicy": server.pull_policy,
        "command": ["mlserver", "start", MODEL_MOUNT],
        "env": [{"name": k, "value": v} for k, v in env.items()],
        "ports": [
            {"name": "http", "containerPort": http, "protocol": "TCP"},
            {"name": "grpc", "containerPort": grpc, "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        # Seldon waits 20 s before the first readiness probe; MLServer answers as soon as the
        # model is loaded, so the stand-ins ask sooner.
        "readinessProbe": probe("/v2/health/ready", 5),
        "livenessProbe": probe("/v2/health/live", 60),
        "resources": {"requests": {"cpu": "50m", "memory": "256Mi"}, "limits": {"memory": "2Gi"}},
        "volumeMounts": [{"name": volume, "mountPath": MODEL_MOUNT, "readOnly": True}],
        "securityContext": _RESTRICTED,
    }


def model_service(sdep: Mapping[str, Any], predictor: Mapping[str, Any]) -> dict[str, Any]:
    """Seldon's container Service: the model server's HTTP and gRPC ports."""
    sid, key, _, service = _names(sdep, predictor)
    labels = {"seldon-app-svc": service, "seldon-deployment-id": sid, "seldon-app": key}
    labels.update({"seldon.io/model": "true", **MANAGED_BY})
    if predictor.get("shadow"):
        labels["seldon.io/shadow"] = "true"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _metadata(sdep, service, labels),
        "spec": {
            "type": "ClusterIP",
            "selector": {"seldon-app-svc": service},
            "ports": [
                {"name": "http", "protocol": "TCP", "port": HTTP_PORT, "targetPort": HTTP_PORT},
                {"name": "grpc", "protocol": "TCP", "port": GRPC_PORT, "targetPort": GRPC_PORT},
            ],
        },
    }


def model_endpoint(namespace: str, deployment: str, predictor: str, container: str) -> str:
    """The V2 inference URL of a predictor's model server, through its Service."""
    service = service_name(deployment, predictor, container)
    return f"http://{service}.{namespace}.svc:{HTTP_PORT}/v2/models/{container}/infer"


@dataclass(frozen=True)
class Observed:
    """A model server Deployment as the cluster has it: its available replicas, and the
    storage initializer's last words when it exited with an error."""

    available: int
    failure: str | None = None


def status(
    sdep: Mapping[str, Any], planned: list[Planned], observed: Mapping[str, Observed]
) -> dict[str, Any]:
    """The status Seldon Core v1's controller writes: `state` (Creating, Available, Failed),
    `description`, `deploymentStatus` per Deployment and `serviceStatus` per Service, and a
    Ready condition that says why in its reason and message."""
    namespace = sdep["metadata"]["namespace"]
    refused = [p.refused for p in planned if p.refused]
    deployments: dict[str, Any] = {}
    services: dict[str, Any] = {}
    for predictor in planned:
        if predictor.deployment is not None and predictor.service is not None:
            name = predictor.deployment["metadata"]["name"]
            wanted = int(predictor.deployment["spec"]["replicas"])
            deployments[name] = _deployment_status(name, wanted, observed.get(name))
            service = predictor.service["metadata"]["name"]
            services[service] = {
                "svcName": service,
                "httpEndpoint": f"{service}.{namespace}:{HTTP_PORT}",
                "grpcEndpoint": f"{service}.{namespace}:{GRPC_PORT}",
            }
    failed = [f"{n}: {d['description']}" for n, d in deployments.items() if d["status"] == "Failed"]
    if refused:
        state, reason = "Failed", "PredictorRefused"
    elif failed:
        state, reason = "Failed", "StorageInitializerFailed"
    elif deployments and all(d["status"] == "Available" for d in deployments.values()):
        state, reason = "Available", "DeploymentsAvailable"
    else:
        state, reason = "Creating", "DeploymentsCreating"
    message = "; ".join([*(str(r) for r in refused), *failed])
    ready = "True" if state == "Available" else "False"
    return {
        "state": state,
        "description": message,
        "deploymentStatus": deployments,
        "serviceStatus": services,
        "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": message}],
    }


def _deployment_status(name: str, wanted: int, seen: Observed | None) -> dict[str, Any]:
    """One Deployment's entry in `deploymentStatus`: Available once its replicas are."""
    seen = seen or Observed(available=0)
    if seen.available >= max(1, wanted):
        state, description = "Available", ""
    elif seen.failure is not None:
        state, description = "Failed", seen.failure
    else:
        state, description = "Creating", ""
    return {
        "name": name,
        "replicas": wanted,
        "availableReplicas": seen.available,
        "status": state,
        "description": description,
    }
