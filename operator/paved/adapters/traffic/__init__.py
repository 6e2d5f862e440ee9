"""Traffic routers, one module per serving backend, chosen per Rollout from its `spec.target`.

`IMPLEMENTATIONS` is the one table of them: a backend → the module and class that move its
traffic and the API the cluster must serve for it. Modules are imported when first needed, so a
backend's client code loads only if some Rollout targets it. A backend without an
implementation, or whose CRD the cluster does not serve, is `Unroutable` with a reason the
Rollout shows, never a crash. Adding a backend: a module here, a row here, its tests, its CRD.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass
from typing import Any, Final

from kubernetes import client

from paved.adapters.kubernetes_api import api_served
from paved.api.rollout import Backend, Target
from paved.ports.traffic import TrafficRouter, Unroutable

BACKEND_NOT_INSTALLED: Final = "BackendNotInstalled"
BACKEND_UNKNOWN: Final = "BackendUnknown"
# How long the answer "the cluster serves this API" is trusted: CRDs come and go rarely.
SERVED_FOR_SECONDS: Final = 60.0


@dataclass(frozen=True)
class Implementation:
    module: str  # under paved.adapters.traffic
    router: str  # its class: (api client, namespace, the target's section) → TrafficRouter
    group: str
    version: str
    plural: str


IMPLEMENTATIONS: Final[dict[Backend, Implementation]] = {
    Backend.SELDON_DEPLOYMENT: Implementation(
        "seldon_v1", "SeldonV1Router", "machinelearning.seldon.io", "v1", "seldondeployments"
    ),
    Backend.INFERENCE_SERVICE: Implementation(
        "kserve", "KServeRouter", "serving.kserve.io", "v1beta1", "inferenceservices"
    ),
}


class KubernetesRouters:
    """`Routers` over the API server: the implementation for each Rollout's backend."""

    def __init__(
        self, api: client.ApiClient, table: dict[Backend, Implementation] | None = None
    ) -> None:
        self._api = api
        self._table = IMPLEMENTATIONS if table is None else table
        self._served_at: dict[Backend, float] = {}

    async def router_for(self, namespace: str, target: Target) -> TrafficRouter | Unroutable:
        backend = target.backend
        found = self._table.get(backend)
        if found is None:
            return Unroutable(BACKEND_UNKNOWN, f"This operator has no router for {backend}.")
        try:
            module = importlib.import_module(f"{__name__}.{found.module}")
            router_class: Any = getattr(module, found.router)
        except (ImportError, AttributeError) as error:
            return Unroutable(BACKEND_UNKNOWN, f"The router for {backend} cannot load: {error}")
        if not await self._served(backend, found):
            return Unroutable(
                BACKEND_NOT_INSTALLED,
                f"The cluster does not serve {found.plural}.{found.group}/{found.version}: "
                f"install {backend}'s CRD (its serving platform) to roll out on it.",
            )
        section = target.seldon_deployment or target.inference_service
        router: TrafficRouter = router_class(self._api, namespace, section)
        return router

    async def _served(self, backend: Backend, found: Implementation) -> bool:
        checked = self._served_at.get(backend)
        if checked is not None and time.monotonic() - checked < SERVED_FOR_SECONDS:
            return True
        served = await api_served(self._api, found.group, found.version, found.plural)
        if served:
            self._served_at[backend] = time.monotonic()
        return served
