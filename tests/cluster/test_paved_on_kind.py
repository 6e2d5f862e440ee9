"""paved as a team installs it: both charts with Helm on the kind cluster, from the images built
here. Everything paved ships runs as Pods, and two operators share one peering: one leads, the
other stands by."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from paved_local.cluster import KindCluster
from paved_local.toolchain import ensure_toolchain
from tests.support.docker import ROOT, Image

pytestmark = pytest.mark.cluster

NAMESPACE = "paved"
PLATFORM_IMAGES = ("operator", "dataplane", "redis", "prometheus", "mlflow", "objectstore")


def _helm(cluster: KindCluster, *args: str) -> None:
    helm = str(ensure_toolchain().helm)
    cluster_args = ("--kubeconfig", str(cluster.kubeconfig), "--namespace", NAMESPACE)
    cluster.run(helm, *args, *cluster_args)


@pytest.fixture(scope="module")
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


def _running(cluster: KindCluster) -> list[tuple[str, str]]:
    """(workload, pod name) of each Running Pod; a workload is its component or its name."""
    listed = json.loads(cluster.kubectl("-n", NAMESPACE, "get", "pods", "-o", "json", capture=True))
    return [
        (labels.get("app.kubernetes.io/component") or labels["app.kubernetes.io/name"], name)
        for pod in listed["items"]
        if pod["status"]["phase"] == "Running"
        for labels, name in [(pod["metadata"]["labels"], pod["metadata"]["name"])]
    ]


def test_everything_paved_ships_runs_as_pods(installed: KindCluster) -> None:
    workloads = sorted(workload for workload, _ in _running(installed))

    paved = ["paved", "paved", "features", "consume-user-activity-v1"]
    platform = ["redis", "prometheus", "mlflow", "objectstore", "dataplane"]
    assert workloads == sorted([*paved, *platform])


def test_two_operators_share_one_peering_with_one_leader(installed: KindCluster) -> None:
    peering = installed.kubectl("get", "clusterkopfpeering", "paved", "-o", "json", capture=True)
    peers = json.loads(peering)["status"]
    operators = {name for workload, name in _running(installed) if workload == "paved"}

    # kopf's key: <peering>@<pod name>/<start>/<suffix>; the higher priority leads.
    assert {key.split("@", 1)[1].split("/", 1)[0] for key in peers} == operators
    assert len({peer["priority"] for peer in peers.values()}) == 2
