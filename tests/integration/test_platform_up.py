"""`paved local up` on a running platform: it leaves a component that answers late alone, and
waits for any other `up` or `down` of the same platform to finish first."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from paved_local.platform import REDIS, Endpoints, LocalPlatform
from tests.support.waiting import wait_for


def _pid(platform: LocalPlatform, component: str) -> int:
    (found,) = (c for c in platform.status() if c.name == component)
    assert found.running
    assert found.pid is not None
    return found.pid


def _opened(path: Path) -> int:
    """How many of this process's file descriptors are open on `path`."""
    fds = Path("/proc/self/fd")
    return sum(1 for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve()))


def test_a_component_that_answers_late_is_not_restarted(local_platform: LocalPlatform) -> None:
    redis_pid = _pid(local_platform, REDIS)
    os.kill(redis_pid, signal.SIGSTOP)  # a busy Redis: connections wait, PING goes unanswered
    thaw = threading.Timer(3.0, os.kill, (redis_pid, signal.SIGCONT))
    thaw.start()
    try:
        said: list[str] = []
        local_platform.up(log=said.append)
    finally:
        thaw.cancel()
        os.kill(redis_pid, signal.SIGCONT)

    assert _pid(local_platform, REDIS) == redis_pid
    assert said == [f"local platform already up in {local_platform.directory}"]


def test_up_waits_while_another_up_or_down_holds_the_platform(
    local_platform: LocalPlatform, monkeypatch: pytest.MonkeyPatch
) -> None:
    happened: list[str] = []
    work = local_platform._up

    def recorded_work(*arguments: Any) -> Endpoints:
        happened.append("up's work began")
        return work(*arguments)

    monkeypatch.setattr(local_platform, "_up", recorded_work)
    finished = threading.Event()

    def up() -> None:
        local_platform.up(log=lambda _: None)
        finished.set()

    with local_platform.exclusive():
        waiting = threading.Thread(target=up, daemon=True)
        waiting.start()
        # However long the holder keeps the platform, up's work waits for it.
        finished.wait(timeout=2.0)
        happened.append("the holder let go")
    assert finished.wait(timeout=60.0), "up did not go on once the platform was released"
    waiting.join(timeout=5.0)
    assert happened == ["the holder let go", "up's work began"]


def test_the_lock_follows_a_platform_deleted_while_it_was_held(tmp_path: Path) -> None:
    platform = LocalPlatform(tmp_path / "platform")
    happened: list[str] = []
    second_holds, second_may_go, third_holds = (threading.Event() for _ in range(3))

    def second() -> None:
        with platform.exclusive():
            happened.append("the second has the lock")
            second_holds.set()
            second_may_go.wait(timeout=10.0)
            happened.append("the second lets go")

    def third() -> None:
        with platform.exclusive():
            happened.append("the third has the lock")
            third_holds.set()

    with platform.exclusive():
        threading.Thread(target=second, daemon=True).start()
        wait_for(
            lambda: _opened(platform.directory / "platform.lock") >= 2,
            timeout=10,
            what="the second to open the lock file and wait on it",
        )
        shutil.rmtree(platform.directory)  # as `down --delete-data` does, lock file and all
        happened.append("the first deleted the platform")
    assert second_holds.wait(timeout=10.0)
    threading.Thread(target=third, daemon=True).start()
    # Had the second locked the deleted file, the third would lock a new one at once.
    third_holds.wait(timeout=1.0)
    second_may_go.set()
    assert third_holds.wait(timeout=10.0)
    assert happened == [
        "the first deleted the platform",
        "the second has the lock",
        "the second lets go",
        "the third has the lock",
    ]
