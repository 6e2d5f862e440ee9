"""The cluster tier: a Docker engine, and paved's images built once per session (`make image`'s
script: seconds when nothing changed)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import yaml

from paved_local.charts import NAMESPACE, install_charts, install_platform, uninstall_charts
from paved_local.cluster import KindCluster
from tests.support.docker import ROOT, Image, build_images, require_docker

# For the tests: the namespace both charts go to, and the platform chart alone.
__all__ = ["NAMESPACE", "install_platform"]
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


@pytest.fixture(scope="session")
def installed(kind_cluster: KindCluster, images: dict[str, Image]) -> Iterator[KindCluster]:
    """The platform chart, then paved's with two operators, wired to it by DNS; every
    Deployment rolled out. Uninstalled (with its namespace) at the end."""
    kind_cluster.load([images[name].tag for name in PLATFORM_IMAGES])
    install_charts(kind_cluster, log=print)
    yield kind_cluster
    uninstall_charts(kind_cluster)


def get_object(cluster: KindCluster, kind: str, name: str, namespace: str = TEAM) -> dict[str, Any]:
    printed = cluster.kubectl("-n", namespace, "get", kind, name, "-o", "json", capture=True)
    found: dict[str, Any] = json.loads(printed)
    return found


def pods(cluster: KindCluster, selector: str) -> list[dict[str, Any]]:
    """The Pods of the team's namespace that `selector` selects."""
    listed = cluster.kubectl("-n", TEAM, "get", "pods", "-l", selector, "-o", "json", capture=True)
    found: list[dict[str, Any]] = json.loads(listed)["items"]
    return found


def mlserver_served(metrics: str) -> float:
    """MLServer's own count of successful inferences, from its /metrics."""
    found = re.findall(r"^model_infer_request_success_total\{[^}]*\} (\S+)$", metrics, re.M)
    return sum(float(value) for value in found)


def apply_manifest(cluster: KindCluster, manifest: dict[str, Any] | str) -> None:
    text = manifest if isinstance(manifest, str) else yaml.safe_dump(manifest)
    cluster.kubectl("-n", TEAM, "apply", "-f", "-", stdin=text)


@contextmanager
def port_forward(
    cluster: KindCluster, target: str, port: int, *, namespace: str = NAMESPACE
) -> Iterator[str]:
    """`kubectl port-forward` to `target` (`service/dataplane`, `pod/…`); its local URL."""
    with cluster.port_forward(namespace, target, port) as address:
        yield f"http://{address}"


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
