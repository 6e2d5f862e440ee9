"""Session fixtures: the local platform starts once, is stopped at the end even when tests fail.

Set PAVED_TEST_PLATFORM_DIR to keep a platform running between runs (faster local iteration):
the fixture then reuses it and leaves it up.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from paved.api.crds import KINDS
from paved.local import processes
from paved.local.platform import Endpoints, LocalPlatform
from paved.local.toolchain import Toolchain, ensure_toolchain
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    kept = os.environ.get("PAVED_TEST_PLATFORM_DIR")
    platform = LocalPlatform(Path(kept) if kept else tmp_path_factory.mktemp("platform"))
    try:
        platform.up()
        yield platform
    finally:
        if not kept:
            platform.down()


@pytest.fixture(scope="session")
def endpoints(local_platform: LocalPlatform) -> Endpoints:
    return local_platform.endpoints()


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    return ensure_toolchain()


@pytest.fixture(scope="session")
def kubectl(endpoints: Endpoints, toolchain: Toolchain) -> Kubectl:
    return Kubectl(toolchain.kubectl, endpoints.kubeconfig)


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    """A fresh namespace per test: without a controller-manager a namespace is never deleted."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kubectl.run("create", "namespace", name)
    return name


@pytest.fixture(scope="session")
def paved_crds(kubectl: Kubectl) -> None:
    """paved's CRDs, installed as a user would: `kubectl apply -f crds/`."""
    kubectl.run("apply", "-f", str(ROOT / "crds"))
    for kind in KINDS:
        kubectl.run("wait", "--for=condition=Established", f"crd/{kind.crd_name}", "--timeout=60s")


@dataclass(frozen=True)
class RunningOperator:
    pid: int
    health_url: str
    metrics_url: str
    log: Path


@pytest.fixture(scope="session")
def paved_operator(
    endpoints: Endpoints, paved_crds: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningOperator]:
    """`paved operator` as its own process against the local platform, as a user runs it."""
    health_port, metrics_port = processes.free_port(), processes.free_port()
    log = tmp_path_factory.mktemp("operator") / "operator.log"
    command = [
        str(Path(sys.executable).parent / "paved"), "operator",
        f"--kubeconfig={endpoints.kubeconfig}", "--bind=127.0.0.1",
        f"--health-port={health_port}", f"--metrics-port={metrics_port}",
    ]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    running = RunningOperator(
        process.pid,
        f"http://127.0.0.1:{health_port}/healthz",
        f"http://127.0.0.1:{metrics_port}/metrics",
        log,
    )
    try:
        wait_for(
            lambda: process.poll() is not None or _answers(running.health_url),
            timeout=60,
            what="the operator's liveness endpoint",
        )
        assert process.poll() is None, f"the operator exited:\n{log.read_text()}"
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
