"""scripts/docker/setup-docker.sh where no daemon answers: pid files left by processes that were
killed (a session's end, a stopped CI job) must not stop dockerd from starting, while the pid file
of a containerd that still runs is left alone.

The daemon here is a stand-in (a script named dockerd that marks the engine up): starting the
machine's real dockerd beside the one the cluster tier uses would disturb it. The real daemon
starting is checked by every CI run's `make setup`."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "docker" / "setup-docker.sh"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the script starts dockerd as root"),
    pytest.mark.skipif(
        subprocess.run(["systemctl", "is-active", "--quiet", "docker"], check=False).returncode == 0
        if shutil.which("systemctl")
        else False,
        reason="systemd's docker.service is the machine's daemon: the script only waits for it",
    ),
]

FAKE_DOCKER = """#!/bin/sh
# `docker info` answers once the stand-in daemon has started.
[ -f "{up}" ]
"""
FAKE_DOCKERD = """#!/bin/sh
# What the real dockerd does with a pid file whose process lives: refuses to start.
for pid_file in "{state}/dockerd.pid" "{exec_root}/containerd/containerd.pid"; do
  if [ -f "$pid_file" ] && kill -0 "$(cat "$pid_file")" 2>/dev/null; then
    echo "pid file found: $pid_file" >&2; exit 1
  fi
done
touch "{up}"
"""


class Machine:
    def __init__(self, root: Path) -> None:
        self.state = root / "state"
        self.exec_root = root / "exec-root"
        self.bin = root / "bin"
        self.up = root / "up"
        for folder in (self.state, self.exec_root / "containerd", self.bin):
            folder.mkdir(parents=True)
        names = {"up": self.up, "state": self.state, "exec_root": self.exec_root}
        self._executable("docker", FAKE_DOCKER.format(**names))
        self._executable("dockerd", FAKE_DOCKERD.format(**names))

    def _executable(self, name: str, text: str) -> None:
        (self.bin / name).write_text(text)
        (self.bin / name).chmod(0o755)

    @property
    def containerd_pid_file(self) -> Path:
        return self.exec_root / "containerd" / "containerd.pid"

    def setup(self) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "PATH": f"{self.bin}:{os.environ['PATH']}",
            "PAVED_DOCKER_STATE": str(self.state),
            "PAVED_DOCKER_EXEC_ROOT": str(self.exec_root),
            "PAVED_DOCKERD": str(self.bin / "dockerd"),
        }
        return subprocess.run(
            ["bash", SCRIPT], env=env, capture_output=True, text=True, timeout=90, check=False
        )


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


@pytest.fixture
def unrelated_process() -> Iterator[int]:
    # The number a killed daemon left behind, now another program's.
    process = subprocess.Popen(["sleep", "300"])
    yield process.pid
    process.kill()
    process.wait()


@pytest.fixture
def running_containerd(tmp_path: Path) -> Iterator[int]:
    # A process the kernel names containerd, as a containerd that survived its dockerd is.
    program = tmp_path / "containerd"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", program)
    process = subprocess.Popen([program, "300"])
    yield process.pid
    process.kill()
    process.wait()


def test_pid_files_naming_other_programs_do_not_stop_dockerd(
    machine: Machine, unrelated_process: int
) -> None:
    (machine.state / "dockerd.pid").write_text(str(unrelated_process))
    machine.containerd_pid_file.write_text(str(unrelated_process))

    started = machine.setup()

    assert started.returncode == 0, started.stderr
    assert machine.up.exists()
    assert not machine.containerd_pid_file.exists()
    assert "removing the stale pid file" in started.stderr


def test_the_pid_file_of_a_containerd_that_still_runs_is_kept(
    machine: Machine, running_containerd: int
) -> None:
    machine.containerd_pid_file.write_text(str(running_containerd))

    started = machine.setup()

    # dockerd then finds its containerd running: the real one reconnects to it.
    assert machine.containerd_pid_file.read_text() == str(running_containerd)
    assert "pid file found" in started.stderr
    assert started.returncode != 0
    assert "it exited" in started.stderr
