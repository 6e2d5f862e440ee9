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

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved_local.seldon.children import Children, initializer_failure, key_of
from paved_local.seldon.manifests import (
    ModelServer,
    Observed,
    Planned,
    plan,
    seldon_id,
    status,
)

log = logging.getLogger("paved_local.seldon")

GROUP: Final = "machinelearning.seldon.io"
PERIOD_SECONDS: Final = 1.0


@dataclass
class SeldonController:
    children: Children  # the objects labelled with manifests.MANAGED_BY
    server: ModelServer

    def reconcile_all(self) -> None:
        for sdep in self.children.owners(GROUP, "v1", "seldondeployments", "SeldonDeployment"):
            try:
                self.reconcile(sdep)
            except ApiException as error:
                log.warning("SeldonDeployment %s: %s", key_of(sdep), error.reason)

    def reconcile(self, sdep: Mapping[str, Any]) -> None:
        """Bring one SeldonDeployment's children to its spec and write what they are."""
        planned = plan(sdep, self.server)
        for predictor in planned:
            for child in (predictor.deployment, predictor.service):
                if child is not None:
                    self.children.apply(child)
            if predictor.refused is not None:
                self.children.warn(sdep, "PredictorRefused", predictor.refused)
        wanted = {
            child["metadata"]["name"]
            for p in planned
            for child in (p.deployment, p.service)
            if child is not None
        }
        self.children.delete_stale(sdep, wanted)
        written = status(sdep, planned, self._observe(sdep, planned))
        if {k: (sdep.get("status") or {}).get(k) for k in written} != written:
            meta = sdep["metadata"]
            client.CustomObjectsApi(self.children.api).patch_namespaced_custom_object_status(
                GROUP,
                "v1",
                meta["namespace"],
                "seldondeployments",
                meta["name"],
                {"status": written},
            )

    def _observe(self, sdep: Mapping[str, Any], planned: list[Planned]) -> dict[str, Observed]:
        """Each model server Deployment's available replicas and its initializer's failure."""
        available = self.children.available(sdep)
        pods = self.children.pods(
            sdep, f"seldon-deployment-id={seldon_id(sdep['metadata']['name'])}"
        )
        observed = {}
        for predictor in planned:
            if predictor.deployment is None:
                continue
            name = predictor.deployment["metadata"]["name"]
            app = predictor.deployment["metadata"]["labels"]["app"]
            mine = [p for p in pods if (p.metadata.labels or {}).get("app") == app]
            observed[name] = Observed(available.get(name, 0), initializer_failure(mine))
        return observed
