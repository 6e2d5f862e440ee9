"""Session fixtures: the local platform starts once, is stopped at the end even when tests fail.

Set PAVED_TEST_PLATFORM_DIR to keep a platform running between runs (faster local iteration):
the fixture then reuses it and leaves it up.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from paved.api.crds import KINDS
from paved.local.platform import Endpoints, LocalPlatform
from paved.local.toolchain import Toolchain, ensure_toolchain
from tests.support.kubectl import Kubectl

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
