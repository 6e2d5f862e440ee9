"""Start, watch and stop the platform's processes; each in its own session, stopped by its pid.

A process is started in a new session, so its pid is also its process-group id: stopping the
group also stops the workers a server forks (MLflow's), and nothing is left behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final

from paved_local.errors import ComponentFailedError, PortInUseError

_LOG_TAIL_LINES = 25


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def is_free(port: int) -> bool:
    """Whether a server could listen on `port` now. As servers do, the probe reuses the address:
    connections a stopped server leaves in TIME_WAIT do not keep its port from the next one."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def require_free(port: int, component: str) -> None:
    """Fail with what to do when `port` is already bound on loopback."""
    if not is_free(port):
        raise PortInUseError(
            f"port {port} for {component} is in use by another process. "
            f"Free it (`ss -ltnp 'sport = :{port}'` shows who holds it), or leave the port "
            "out and let paved choose a free one."
        )


def _reap(pid: int) -> None:
    """Collect `pid`'s exit status when it is our own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


_KERNEL_THREAD: Final = 0x00200000  # PF_KTHREAD in /proc/<pid>/stat's flags


def is_running(pid: int, executable: str) -> bool:
    """True when `pid` is alive and still runs `executable` (a recycled pid is not ours)."""
    _reap(pid)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError):
        return False
    return runs(stat, cmdline, executable)


def runs(stat: str, cmdline: bytes, executable: str) -> bool:
    """Whether /proc's `stat` and `cmdline` of a process say it runs `executable`.

    A process in the middle of exec has no command line yet: posix_spawn returns as soon as the
    child has left the parent's memory, before the kernel has laid out the new program's
    arguments. Read then, a just-started kube-apiserver (a 100 MB binary, on a busy machine)
    looked like one that had exited, with an empty log. Only a kernel thread has no command line
    for good."""
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] == "Z":
        return False
    if not cmdline:
        return not int(fields[6]) & _KERNEL_THREAD
    return any(executable.encode() in part for part in cmdline.split(b"\0")[:3])


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # Members that are zombies still count for killpg; they are gone for every practical purpose.
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def start(argv: Sequence[str], log: Path, env: Mapping[str, str] | None = None) -> int:
    """Start `argv` in a session of its own, output appended to `log`; return its pid.

    posix_spawn rather than Popen: the process outlives this call by design, and a Popen object
    collected while its child runs is reported as a leak.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    output = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    no_input = os.open(os.devnull, os.O_RDONLY)
    try:
        return os.posix_spawn(
            argv[0],
            list(argv),
            {**os.environ, **(env or {})},
            file_actions=[
                (os.POSIX_SPAWN_DUP2, no_input, 0),
                (os.POSIX_SPAWN_DUP2, output, 1),
                (os.POSIX_SPAWN_DUP2, output, 2),
            ],
            setsid=True,
        )
    finally:
        os.close(output)
        os.close(no_input)


def stop(pid: int, grace_seconds: float = 10.0) -> None:
    """Stop the process group led by `pid`: SIGTERM, then SIGKILL after the grace period."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)

    def gone() -> bool:
        _reap(pid)
        return not group_alive(pid)

    if _wait(gone, grace_seconds):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _wait(gone, 5.0)


def _wait(done: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if done():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)


def tail(log: Path, lines: int = _LOG_TAIL_LINES) -> str:
    if not log.is_file():
        return "(no log written)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def wait_until_ready(
    name: str,
    pid: int,
    executable: str,
    ready: Callable[[], bool],
    timeout: float,
    log: Path,
) -> None:
    """Poll `ready` until it holds; fail early, with the log's tail, if the process exits."""
    deadline = time.monotonic() + timeout
    while True:
        if ready():
            return
        if not is_running(pid, executable):
            raise ComponentFailedError(
                f"{name} exited during start-up. Last lines of {log}:\n{tail(log)}"
            )
        if time.monotonic() > deadline:
            raise ComponentFailedError(
                f"{name} was not ready after {timeout:.0f}s. Last lines of {log}:\n{tail(log)}"
            )
        time.sleep(0.2)
