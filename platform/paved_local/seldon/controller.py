"""The Seldon Core v1 controller's stand-in: for every SeldonDeployment, the model servers.

Seldon Core's source is not served here, so its controller cannot be built; this loop does the
part of its job paved relies on. Every second it lists SeldonDeployments and, for each, applies
what `manifests.plan` says Seldon would create (a model server Deployment and its Service per
predictor, owned by the SeldonDeployment), deletes what a removed predictor left, and writes
the status Seldon writes (`state`, `deploymentStatus`, `serviceStatus`). A predictor it cannot
serve (a `models:/` URI, an unknown implementation) gets no Deployment: the status says why and
a Warning event names the predictor. ADR 0032.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from paved_local.seldon.manifests import ModelServer, Observed, Planned, plan, seldon_id, status

log = logging.getLogger("paved_local.seldon")

GROUP: Final = "machinelearning.seldon.io"
FIELD_MANAGER: Final = "seldon-controller-stand-in"
PERIOD_SECONDS: Final = 1.0
CHILDREN: Final = (("apis/apps/v1", "deployments"), ("api/v1", "services"))


@dataclass
class SeldonController:
    api: client.ApiClient
    server: ModelServer
    warned: set[tuple[str, str]] = field(default_factory=set)  # (uid, message) already evented

    def reconcile_all(self) -> None:
        listed = client.CustomObjectsApi(self.api).list_cluster_custom_object(
            GROUP, "v1", "seldondeployments"
        )
        for sdep in listed["items"]:
            if sdep["metadata"].get("deletionTimestamp"):
                continue  # the garbage collector removes its children
            try:
                self.reconcile(sdep)
            except ApiException as error:
                log.warning("SeldonDeployment %s: %s", _key(sdep), error.reason)

    def reconcile(self, sdep: Mapping[str, Any]) -> None:
        """Bring one SeldonDeployment's children to its spec and write what they are."""
        planned = plan(sdep, self.server)
        for predictor in planned:
            for child in (predictor.deployment, predictor.service):
                if child is not None:
                    self._apply(child)
            if predictor.refused is not None:
                self._warn(sdep, "PredictorRefused", predictor.refused)
        self._delete_stale(sdep, planned)
        written = status(sdep, planned, self._observe(sdep, planned))
        if {k: (sdep.get("status") or {}).get(k) for k in written} != written:
            meta = sdep["metadata"]
            client.CustomObjectsApi(self.api).patch_namespaced_custom_object_status(
                GROUP,
                "v1",
                meta["namespace"],
                "seldondeployments",
                meta["name"],
                {"status": written},
            )

    def _apply(self, body: Mapping[str, Any]) -> None:
        """Server-side apply one child, taking over fields a person may have changed."""
        meta = body["metadata"]
        base = "apis/apps/v1" if body["kind"] == "Deployment" else "api/v1"
        plural = "deployments" if body["kind"] == "Deployment" else "services"
        self.api.call_api(
            f"/{base}/namespaces/{meta['namespace']}/{plural}/{meta['name']}",
            "PATCH",
            query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            header_params={"Content-Type": "application/apply-patch+yaml"},
            body=dict(body),
            auth_settings=["BearerToken"],
            response_type="object",
        )

    def _owned(self, sdep: Mapping[str, Any], base: str, plural: str) -> list[dict[str, Any]]:
        """The children of `plural` that this SeldonDeployment owns."""
        meta = sdep["metadata"]
        found = self.api.call_api(
            f"/{base}/namespaces/{meta['namespace']}/{plural}",
            "GET",
            query_params=[("labelSelector", "app.kubernetes.io/managed-by=seldon-core")],
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
        )
        return [
            item
            for item in found["items"]
            if any(
                o.get("uid") == meta["uid"] for o in item["metadata"].get("ownerReferences") or []
            )
        ]

    def _delete_stale(self, sdep: Mapping[str, Any], planned: list[Planned]) -> None:
        """Delete the children of predictors that are gone (or now refused)."""
        wanted = {
            child["metadata"]["name"]
            for p in planned
            for child in (p.deployment, p.service)
            if child is not None
        }
        for base, plural in CHILDREN:
            for item in self._owned(sdep, base, plural):
                name = item["metadata"]["name"]
                if name not in wanted:
                    log.info("deleting %s %s of %s", plural, name, _key(sdep))
                    self.api.call_api(
                        f"/{base}/namespaces/{item['metadata']['namespace']}/{plural}/{name}",
                        "DELETE",
                        auth_settings=["BearerToken"],
                    )

    def _observe(self, sdep: Mapping[str, Any], planned: list[Planned]) -> dict[str, Observed]:
        """Each model server Deployment's available replicas and its initializer's failure."""
        deployments = {
            d["metadata"]["name"]: d for d in self._owned(sdep, "apis/apps/v1", "deployments")
        }
        pods = client.CoreV1Api(self.api).list_namespaced_pod(
            sdep["metadata"]["namespace"],
            label_selector=f"seldon-deployment-id={seldon_id(sdep['metadata']['name'])}",
        )
        observed = {}
        for predictor in planned:
            if predictor.deployment is None:
                continue
            name = predictor.deployment["metadata"]["name"]
            available = (deployments.get(name, {}).get("status") or {}).get("availableReplicas")
            app = predictor.deployment["metadata"]["labels"]["app"]
            mine = [p for p in pods.items if (p.metadata.labels or {}).get("app") == app]
            observed[name] = Observed(int(available or 0), _initializer_failure(mine))
        return observed

    def _warn(self, sdep: Mapping[str, Any], reason: str, message: str) -> None:
        """A Warning event on the SeldonDeployment, once per message."""
        meta = sdep["metadata"]
        if (meta["uid"], message) in self.warned:
            return
        now = dt.datetime.now(dt.UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{meta['name']}."),
            involved_object=client.V1ObjectReference(
                api_version=f"{GROUP}/v1",
                kind="SeldonDeployment",
                name=meta["name"],
                namespace=meta["namespace"],
                uid=meta["uid"],
            ),
            reason=reason,
            message=message,
            type="Warning",
            source=client.V1EventSource(component=FIELD_MANAGER),
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        client.CoreV1Api(self.api).create_namespaced_event(meta["namespace"], event)
        self.warned.add((meta["uid"], message))
        log.warning("%s: %s", _key(sdep), message)


def _initializer_failure(pods: list[Any]) -> str | None:
    """What a failed storage initializer said last (its termination message), if one did."""
    for pod in pods:
        for init in (pod.status.init_container_statuses if pod.status else None) or []:
            for state in (init.state, init.last_state):
                ended = state.terminated if state else None
                if ended is not None and ended.exit_code != 0:
                    said = (ended.message or ended.reason or "").strip().splitlines()
                    return f"the storage initializer failed: {said[-1] if said else 'no output'}"
    return None


def _key(sdep: Mapping[str, Any]) -> str:
    return f"{sdep['metadata']['namespace']}/{sdep['metadata']['name']}"


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/healthz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: object) -> None:  # probes every few seconds: not worth a line
        pass


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m paved_local.seldon", description=__doc__)
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--model-server-image", required=True)
    parser.add_argument("--env-secret", default="seldon-init-container-secret")
    parser.add_argument("--pull-policy", default="IfNotPresent")
    parser.add_argument("--port", type=int, default=8080)
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    health = ThreadingHTTPServer(("0.0.0.0", arguments.port), _Health)
    threading.Thread(target=health.serve_forever, daemon=True).start()
    server = ModelServer(arguments.model_server_image, arguments.env_secret, arguments.pull_policy)
    controller = SeldonController(config.new_client_from_config(arguments.kubeconfig), server)
    while True:
        try:
            controller.reconcile_all()
        except ApiException as error:
            log.warning("listing SeldonDeployments: %s", error.reason)
        time.sleep(PERIOD_SECONDS)
