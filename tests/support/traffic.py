"""Steady traffic on a serving object of the local data plane, for the length of a `with`."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from paved.api.rollout import Backend
from paved_local.dataplane.load import Example, LoadStats, generate_load
from paved_local.platform import Endpoints


@contextmanager
def steady_load(
    endpoints: Endpoints,
    namespace: str,
    deployment: str,
    examples: Sequence[Example],
    rate: float = 30.0,
    backend: Backend = Backend.SELDON_DEPLOYMENT,
) -> Iterator[LoadStats]:
    with steady_load_at(
        endpoints.dataplane, namespace, deployment, examples, rate=rate, backend=backend
    ) as stats:
        yield stats


@contextmanager
def steady_load_at(
    dataplane: str,
    namespace: str,
    deployment: str,
    examples: Sequence[Example],
    *,
    rate: float = 30.0,
    backend: Backend = Backend.SELDON_DEPLOYMENT,
) -> Iterator[LoadStats]:
    """Steady traffic on the data plane at `dataplane` (a URL: the local one, or a cluster's
    through a port-forward)."""
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    stats = LoadStats()
    finished = threading.Event()

    def run() -> None:
        async def load() -> None:
            result = await generate_load(
                dataplane, namespace, deployment, examples, rate, stop, backend=backend
            )
            stats.__dict__.update(result.__dict__)

        try:
            loop.run_until_complete(load())
        finally:
            finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield stats
    finally:
        loop.call_soon_threadsafe(stop.set)
        finished.wait(timeout=30)
        thread.join(timeout=5)
        loop.close()
