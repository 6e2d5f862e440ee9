"""Outages of the local platform's services, for tests that must survive them."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from paved_local import processes
from paved_local.platform import LocalPlatform


@contextmanager
def frozen(platform: LocalPlatform, component: str) -> Iterator[None]:
    """`component` stops answering, as a hung server does: its port still accepts connections,
    and requests wait until the client gives up. It carries on, state intact, afterwards."""
    pid = next(c.pid for c in platform.status() if c.name == component and c.running)
    assert pid is not None
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


class Outage:
    """Takes one of the platform's services down (its port refuses connections) and brings it
    back where it was: the platform itself starts it again, on the same port and store."""

    def __init__(self, platform: LocalPlatform, component: str) -> None:
        self._platform = platform
        self._component = component
        self._endpoints = platform.endpoints()

    def begin(self) -> None:
        (component,) = (c for c in self._platform.status() if c.name == self._component)
        assert component.running
        assert component.pid is not None
        processes.stop(component.pid)

    def end(self) -> None:
        """Start the service again (the platform restarts what does not answer)."""
        self._platform.up(log=lambda _: None)
        assert self._platform.endpoints() == self._endpoints, f"{self._component} moved"


@contextmanager
def outage(platform: LocalPlatform, component: str) -> Iterator[Outage]:
    """An `Outage` of `component` that is over, whatever happened, when the block is left."""
    taken = Outage(platform, component)
    try:
        yield taken
    finally:
        taken.end()
