"""Outages of the local platform's services, for tests that must survive them."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager

from paved.local.platform import LocalPlatform


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
