"""The cluster tier: a Docker engine, and paved's images built once per session (`make image`'s
script: seconds when nothing changed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from paved_local.cluster import KindCluster
from paved_local.toolchain import ensure_toolchain
from tests.support.docker import ROOT, Image, build_images, require_docker

NAMESPACE = "paved"
TEAM = "default"  # where `kubectl apply -f examples/` puts them
PLATFORM_IMAGES = (
    "operator",
    "dataplane",
    "model-server",
    "redis",
    "prometheus",
    "mlflow",
    "objectstore",
)


@pytest.fixture(scope="session")
def images() -> dict[str, Image]:
    require_docker()
    return build_images()


@pytest.fixture(scope="session")
def kind_cluster() -> Iterator[KindCluster]:
    """One kind cluster for the whole tier (creating one takes a minute or two). Deleted at the
    end unless PAVED_TEST_KEEP_CLUSTER is set, which keeps it for the next run."""
    require_docker()
    cluster = KindCluster(name=os.environ.get("PAVED_TEST_CLUSTER", "paved-test"))
    cluster.up(log=print)
    yield cluster
    if not os.environ.get("PAVED_TEST_KEEP_CLUSTER"):
        cluster.down()


def install_platform(cluster: KindCluster, *values: Path) -> None:
    """charts/paved-platform as the release `platform`, with `values` files (its defaults
    without), every Deployment rolled out."""
    chart = str(ROOT / "charts/paved-platform")
    flags = [f"--values={path}" for path in values]
    _helm(cluster, "upgrade", "--install", "platform", chart, "--create-namespace", *flags)
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment", "--timeout=300s")


def _helm(cluster: KindCluster, *args: str) -> None:
    helm = str(ensure_toolchain().helm)
    cluster_args = ("--kubeconfig", str(cluster.kubeconfig), "--namespace", NAMESPACE)
    cluster.run(helm, *args, *cluster_args)


@pytest.fixture(scope="session")
def installed(kind_cluster: KindCluster, images: dict[str, Image]) -> Iterator[KindCluster]:
    """The platform chart, then paved's with two operators, wired to it by DNS; every
    Deployment rolled out. Uninstalled (with its namespace) at the end."""
    kind_cluster.load([images[name].tag for name in PLATFORM_IMAGES])
    install_platform(kind_cluster)
    values = str(ROOT / "charts/paved/ci/platform-values.yaml")
    _helm(kind_cluster, "upgrade", "--install", "paved", str(ROOT / "charts/paved"), "-f", values)
    kind_cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment", "--timeout=300s")
    yield kind_cluster
    _helm(kind_cluster, "uninstall", "paved")
    _helm(kind_cluster, "uninstall", "platform")
    kind_cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false")


def get_object(cluster: KindCluster, kind: str, name: str, namespace: str = TEAM) -> dict[str, Any]:
    printed = cluster.kubectl("-n", namespace, "get", kind, name, "-o", "json", capture=True)
    found: dict[str, Any] = json.loads(printed)
    return found


def apply_manifest(cluster: KindCluster, manifest: dict[str, Any] | str) -> None:
    text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
    cluster.kubectl("-n", TEAM, "apply", "-f", "-", stdin=text)


@contextmanager
def port_forward(
    cluster: KindCluster, target: str, port: int, *, namespace: str = NAMESPACE
) -> Iterator[str]:
    """`kubectl port-forward` to `target` (`service/dataplane`, `pod/…`); its local URL."""
    kubectl = str(ensure_toolchain().kubectl)
    forward = subprocess.Popen(
        [
            *(kubectl, "--kubeconfig", str(cluster.kubeconfig), "-n", namespace),
            *("port-forward", target, f":{port}"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert forward.stdout is not None
        first = forward.stdout.readline()
        local = re.search(r"127\.0\.0\.1:(\d+)", first)
        assert local, f"kubectl port-forward said {first!r}"
        yield f"http://127.0.0.1:{local[1]}"
    finally:
        forward.terminate()
        forward.wait(timeout=10)
        if forward.stdout is not None:
            forward.stdout.close()


@pytest.fixture(scope="session")
def example_data(installed: KindCluster) -> KindCluster:
    """examples/data loaded by its Job: the data root, and a baseline model on the object store
    at s3://paved/models/churn/baseline."""
    installed.kubectl("apply", "-n", NAMESPACE, "-k", str(ROOT / "examples" / "data"))
    installed.kubectl(
        *("-n", NAMESPACE, "wait", "--for=condition=complete", "job/paved-example-data"),
        "--timeout=300s",
    )
    return installed
