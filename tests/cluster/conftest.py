"""The cluster tier: a Docker engine, and paved's images built once per session (`make image`'s
script: seconds when nothing changed)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from paved_local.charts import NAMESPACE, install_charts, uninstall_charts
from paved_local.cluster import KindCluster
from tests.support.docker import Image, build_images, require_docker

__all__ = ["NAMESPACE"]  # the namespace both charts go to, for the tests
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


@pytest.fixture(scope="session")
def installed(kind_cluster: KindCluster, images: dict[str, Image]) -> Iterator[KindCluster]:
    """The platform chart, then paved's with two operators, wired to it by DNS; every
    Deployment rolled out. Uninstalled (with its namespace) at the end."""
    kind_cluster.load([images[name].tag for name in PLATFORM_IMAGES])
    install_charts(kind_cluster, log=print)
    yield kind_cluster
    uninstall_charts(kind_cluster)
