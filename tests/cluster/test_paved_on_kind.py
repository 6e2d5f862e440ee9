"""paved as a team installs it: both charts with Helm on the kind cluster, from the images built
here. Everything paved ships runs as Pods, and two operators share one peering: one leads, the
other stands by."""

from __future__ import annotations

import json

import pytest

from paved_local.cluster import KindCluster
from tests.cluster.conftest import NAMESPACE

pytestmark = pytest.mark.cluster


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
    platform = ["redis", "prometheus", "mlflow", "objectstore", "dataplane", "seldon-controller"]
    assert workloads == sorted([*paved, *platform])


def test_two_operators_share_one_peering_with_one_leader(installed: KindCluster) -> None:
    peering = installed.kubectl("get", "clusterkopfpeering", "paved", "-o", "json", capture=True)
    peers = json.loads(peering)["status"]
    operators = {name for workload, name in _running(installed) if workload == "paved"}

    # kopf's key: <peering>@<pod name>/<start>/<suffix>; the higher priority leads.
    assert {key.split("@", 1)[1].split("/", 1)[0] for key in peers} == operators
    assert len({peer["priority"] for peer in peers.values()}) == 2
