"""On a cluster a predictor gets traffic only once its model server says its model is ready:
a Deployment counted available is not enough (the status can still name the Deployment a
shadow of the same name had one rollout ago, and MLServer answers 404 while it loads)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import httpx
from kubernetes import client

from paved_local.dataplane.routing import route_of
from paved_local.dataplane.server import DataPlane

KEY = ("team-a", "churn")
DEPLOYMENT: dict[str, Any] = {
    "metadata": {"name": "churn", "namespace": "team-a"},
    "spec": {
        "predictors": [
            {"name": "baseline", "graph": {"name": "classifier", "modelUri": "s3://b/1"}},
            {
                "name": "shadow",
                "shadow": True,
                "graph": {"name": "classifier", "modelUri": "s3://b/3"},
            },
        ]
    },
    # Both Deployments available, as the stand-in's status may still say of the shadow's name.
    "status": {
        "deploymentStatus": {
            "churn-baseline-0-classifier": {"availableReplicas": 1},
            "churn-shadow-0-classifier": {"availableReplicas": 1},
        }
    },
}


class ModelServers:
    """Each Service's MLServer: ready for its model, or 404 while it loads."""

    def __init__(self) -> None:
        self.loading = {"churn-shadow-classifier"}
        self.asked: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        service = request.url.host.split(".")[0]
        self.asked.append(service)
        if service in self.loading:
            return httpx.Response(404, json={"error": "Model classifier not found"})
        return httpx.Response(200)


async def test_a_shadow_gets_mirrors_only_once_its_model_is_ready(tmp_path: Path) -> None:
    servers = ModelServers()
    plane = DataPlane(
        objects=cast(client.CustomObjectsApi, None),
        cache=tmp_path,
        model_servers=True,
        http=httpx.AsyncClient(transport=httpx.MockTransport(servers)),
    )
    route = route_of(DEPLOYMENT)

    await plane._take(KEY, DEPLOYMENT, route)

    assert plane.routes[KEY].shadow is None  # the baseline serves; the shadow waits
    assert "shadow" in plane.refused[KEY]

    servers.loading.clear()
    await plane._take(KEY, DEPLOYMENT, route)

    assert plane.routes[KEY] == route
    assert KEY not in plane.refused
    asked = len(servers.asked)
    await plane._take(KEY, DEPLOYMENT, route)
    assert len(servers.asked) == asked  # a model said ready once is not asked again
