"""`paved local up` on a running platform: it leaves a component that answers late alone, and
waits for any other `up` or `down` of the same platform to finish first."""

from __future__ import annotations

import os
import signal
import threading

from paved.local.platform import REDIS, LocalPlatform


def _pid(platform: LocalPlatform, component: str) -> int:
    (found,) = (c for c in platform.status() if c.name == component)
    assert found.running
    assert found.pid is not None
    return found.pid


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
    local_platform: LocalPlatform,
) -> None:
    finished = threading.Event()

    def up() -> None:
        local_platform.up(log=lambda _: None)
        finished.set()

    with local_platform.exclusive():
        waiting = threading.Thread(target=up, daemon=True)
        waiting.start()
        assert not finished.wait(timeout=2.0), "up ran while the platform was held"
    assert finished.wait(timeout=60.0), "up did not go on once the platform was released"
    waiting.join(timeout=5.0)
