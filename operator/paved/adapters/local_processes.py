"""Detached processes beside the operator, for the local runners (training runs, stream
workers): started in a session of their own, logging to a file, found again by pid."""

from __future__ import annotations

import contextlib
import os
import signal
from pathlib import Path


def spawn(command: list[str], log_path: Path) -> int:
    """Start `command` in a session of its own (it outlives the operator), logging to
    `log_path`; its pid."""
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        return os.posix_spawn(
            command[0],
            command,
            dict(os.environ),
            file_actions=[(os.POSIX_SPAWN_DUP2, log, 1), (os.POSIX_SPAWN_DUP2, log, 2)],
            setsid=True,
        )
    finally:
        os.close(log)


def alive(pid: int) -> bool:
    """Whether process `pid` runs (a zombie does not; our own child is reaped)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def stop(pid: int) -> None:
    """End process `pid`'s session (it leads one: `spawn`), if it still runs."""
    if alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
