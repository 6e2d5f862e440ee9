"""The stand-in for KServe's controller (with Knative's) on a cluster: every second, for each
InferenceService, the revisions (`revisions.reconcile`: a new one per new `storageUri`, ready
once its model server has a replica available), a model server Deployment and Service per kept
revision (`manifests.plan`, owned by the InferenceService), what is no longer kept deleted (as
Knative scales an unrouted revision to zero), and the status KServe writes. A predictor it
cannot serve (a `models:/` URI, a format without an MLServer runtime) gets no Pod: the status
says why and a Warning event names it. ADR 0033.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved_local.kserve import revisions as knative
from paved_local.kserve.manifests import deployment_name, plan
from paved_local.seldon.children import Children, initializer_failure, key_of
from paved_local.seldon.manifests import ModelServer

log = logging.getLogger("paved_local.kserve")


@dataclass
class KServeController:
    children: Children  # the objects labelled with manifests.MANAGED_BY
    server: ModelServer

    def reconcile_all(self) -> None:
        listed = self.children.owners(
            knative.GROUP, knative.VERSION, knative.PLURAL, "InferenceService"
        )
        for service in listed:
            try:
                self.reconcile(service)
            except ApiException as error:
                log.warning("InferenceService %s: %s", key_of(service), error.reason)
            except knative.InvalidServiceError as error:
                self.children.warn(service, "InvalidSpec", str(error))

    def reconcile(self, service: Mapping[str, Any]) -> None:
        """Bring one InferenceService's revisions and their model servers to its spec."""
        uri, canary = knative.storage_uri(service), knative.canary_percent(service)
        available = self.children.available(service)
        revisions = knative.reconcile(
            str(service["metadata"]["name"]),
            knative.remembered(service),
            uri,
            canary,
            lambda r: available.get(deployment_name(r.name), 0) > 0,
        )
        planned = plan(service, revisions, self.server)
        for child in planned.children:
            self.children.apply(child)
        self.children.delete_stale(service, {c["metadata"]["name"] for c in planned.children})
        failed = planned.refused
        if failed is not None:
            self.children.warn(service, "RevisionRefused", failed)
        elif revisions.created and revisions.latest_ready != revisions.created[-1].name:
            latest = revisions.created[-1].name
            pods = self.children.pods(service, f"serving.knative.dev/revision={latest}")
            failed = initializer_failure(pods)
        self._write(service, knative.status_of(service, revisions, canary, failed))

    def _write(self, service: Mapping[str, Any], status: dict[str, Any]) -> None:
        """KServe's status, written only when it changes."""
        if {k: (service.get("status") or {}).get(k) for k in status} == status:
            return
        meta = service["metadata"]
        client.CustomObjectsApi(self.children.api).patch_namespaced_custom_object_status(
            knative.GROUP,
            knative.VERSION,
            meta["namespace"],
            knative.PLURAL,
            meta["name"],
            {"status": status},
        )
