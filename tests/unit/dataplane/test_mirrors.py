"""A shadow is only measured: however it misbehaves, the live path's requests are answered."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import cast

import httpx
import pandas as pd
from kubernetes import client

from paved_local.dataplane.routing import route_of
from paved_local.dataplane.server import MAX_MIRRORS_IN_FLIGHT, DataPlane

ROUTE = route_of(
    {
        "metadata": {"name": "churn", "namespace": "team-a"},
        "spec": {
            "predictors": [
                {"name": "baseline", "graph": {"name": "classifier", "modelUri": "s3://b/1"}},
                {
                    "name": "candidate",
                    "shadow": True,
                    "graph": {"name": "classifier", "modelUri": "s3://b/2"},
                },
            ]
        },
    }
)


def _answering(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"outputs": [{"shape": [1], "data": [0.25]}]})


async def _never_answering(request: httpx.Request) -> httpx.Response:
    # What a request to a Service deleted a moment ago does: its name still resolves (DNS
    # caches it), and the connection waits on an address nothing answers at.
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


def _plane(tmp_path: Path) -> DataPlane:
    return DataPlane(
        objects=cast(client.CustomObjectsApi, None),
        cache=tmp_path,
        model_servers=True,
        http=httpx.AsyncClient(transport=httpx.MockTransport(_answering)),
        mirror_http=httpx.AsyncClient(transport=httpx.MockTransport(_never_answering)),
    )


def _dropped(plane: DataPlane) -> float | None:
    assert ROUTE.shadow is not None
    labels = plane.metrics.labels(ROUTE, ROUTE.shadow)
    return plane.metrics.registry.get_sample_value("paved_dataplane_mirrors_dropped_total", labels)


async def test_a_shadow_that_never_answers_costs_the_live_path_nothing(tmp_path: Path) -> None:
    plane = _plane(tmp_path)
    frame = pd.DataFrame({"x": [1.0]})
    requests = 3 * MAX_MIRRORS_IN_FLIGHT

    for _ in range(requests):
        assert (await plane.serve(ROUTE, ROUTE.live[0], frame)).rows() == [0.25]
        plane.mirror(ROUTE, frame)
        await asyncio.sleep(0)  # the mirror starts, and hangs

    assert len(plane.mirrors) == MAX_MIRRORS_IN_FLIGHT
    assert _dropped(plane) == requests - MAX_MIRRORS_IN_FLIGHT
    for task in plane.mirrors:
        task.cancel()
    await asyncio.gather(*plane.mirrors, return_exceptions=True)
