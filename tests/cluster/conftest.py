"""The cluster tier: a Docker engine, and paved's images built once per session (`make image`'s
script: seconds when nothing changed)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from paved_local.cluster import KindCluster
from paved_local.toolchain import ensure_toolchain
from tests.support.docker import ROOT, Image, build_images, require_docker

NAMESPACE = "paved"
PLATFORM_IMAGES = ("operator", "dataplane", "redis", "prometheus", "mlflow", "objectstore")


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


def _helm(cluster: KindCluster, *args: str) -> None:
    helm = str(ensure_toolchain().helm)
    cluster_args = ("--kubeconfig", str(cluster.kubeconfig), "--namespace", NAMESPACE)
    cluster.run(helm, *args, *cluster_args)


@pytest.fixture(scope="session")
def installed(kind_cluster: KindCluster, images: dict[str, Image]) -> Iterator[KindCluster]:
    """The platform chart, then paved's with two operators, wired to it by DNS; every
    Deployment rolled out. Uninstalled (with its namespace) at the end."""
    kind_cluster.load([images[name].tag for name in PLATFORM_IMAGES])
    _helm(
        kind_cluster,
        "upgrade",
        "--install",
        "platform",
        str(ROOT / "charts/paved-platform"),
        "--create-namespace",
    )
    values = str(ROOT / "charts/paved/ci/platform-values.yaml")
    _helm(kind_cluster, "upgrade", "--install", "paved", str(ROOT / "charts/paved"), "-f", values)
    kind_cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment", "--timeout=300s")
    yield kind_cluster
    _helm(kind_cluster, "uninstall", "paved")
    _helm(kind_cluster, "uninstall", "platform")
    kind_cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false")
