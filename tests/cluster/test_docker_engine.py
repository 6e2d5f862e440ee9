"""The Docker engine `make setup` provides: privileged containers run (systemd as PID 1, as a
kind node needs) and `docker exec` works, on these VMs that withhold CAP_SYS_RESOURCE too."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.docker import ROOT, base_image, docker, require_docker
from tests.support.waiting import wait_for

WITHHELD = subprocess.run(
    ["python3", ROOT / "scripts" / "docker" / "paved_runc.py", "--withheld"],
    check=True,
    capture_output=True,
    text=True,
).stdout.split()
CAP_SYS_ADMIN = 21


@pytest.fixture(scope="module")
def systemd_image() -> str:
    require_docker()
    return base_image("systemd", ["systemd", "systemd-sysv", "dbus"])


@pytest.fixture
def systemd_node(systemd_image: str) -> Iterator[str]:
    # What a kind node asks of Docker: privileged, its own cgroup namespace, /run on tmpfs.
    node = ["--privileged", "--cgroupns=private", "--tmpfs", "/run", "--tmpfs", "/run/lock"]
    container = docker("run", "--detach", *node, systemd_image, "/sbin/init").stdout.strip()
    yield container
    docker("rm", "--force", container, check=False)


def _system_state(container: str) -> str | None:
    state = docker("exec", container, "systemctl", "is-system-running", check=False).stdout
    return state.strip() if state.strip() in ("running", "degraded") else None


def test_a_privileged_container_boots_systemd_as_pid_1(systemd_node: str) -> None:
    state = wait_for(lambda: _system_state(systemd_node), timeout=60, what="systemd to boot")

    assert state == "running", docker("exec", systemd_node, "systemctl", "--failed").stdout
    assert docker("exec", systemd_node, "cat", "/proc/1/comm").stdout.strip() == "systemd"


def test_a_privileged_exec_holds_every_capability_the_machine_grants(systemd_node: str) -> None:
    status = docker("exec", "--privileged", systemd_node, "cat", "/proc/self/status").stdout
    effective = int(next(line.split()[1] for line in status.splitlines() if "CapEff" in line), 16)

    assert effective >> CAP_SYS_ADMIN & 1


def test_the_daemon_uses_paved_runc_only_where_the_machine_withholds_capabilities() -> None:
    require_docker()
    info = json.loads(docker("info", "--format", "{{json .}}").stdout)
    if WITHHELD:
        assert info["DefaultRuntime"] == "paved-runc"
    else:
        # A normal Docker host keeps its own runtime: paved changes nothing there.
        assert info["DefaultRuntime"] != "paved-runc"


def test_runc_alone_refuses_privileged_containers_here(systemd_image: str) -> None:
    # What paved-runc is for: without it, these VMs refuse every privileged container.
    if not WITHHELD:
        pytest.skip("this machine grants every capability: plain runc runs privileged containers")
    refused = docker(
        "run", "--rm", "--runtime", "runc", "--privileged", systemd_image, "true", check=False
    )
    assert refused.returncode != 0
    assert "unable to apply caps" in refused.stderr
