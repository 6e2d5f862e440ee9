"""A real cluster: kind on the node image built here (images/node). Pods run on both nodes,
Services resolve through cluster DNS across nodes, a PersistentVolumeClaim binds, and a
privileged Pod runs on these VMs that withhold a capability from every process."""

from __future__ import annotations

import gc
import json
import socket
import uuid
from collections.abc import Iterator

import pytest

from paved_local.cluster import KindCluster

pytestmark = pytest.mark.cluster


@pytest.fixture
def namespace(kind_cluster: KindCluster) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kind_cluster.kubectl("create", "namespace", name)
    yield name
    kind_cluster.kubectl("delete", "namespace", name, "--wait=false")


def _pod(name: str, node: str, command: str, **spec: object) -> str:
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            # A selector, not nodeName: the scheduler must see the Pod for a claim to bind.
            "nodeSelector": {"kubernetes.io/hostname": node},
            "restartPolicy": "Never",
            "tolerations": [{"operator": "Exists"}],
            "containers": [
                {
                    "name": "main",
                    "image": "paved.dev/node-tools:bookworm",
                    "imagePullPolicy": "Never",
                    "command": ["/bin/sh", "-ec", command],
                    **spec.pop("container", {}),  # type: ignore[dict-item]
                }
            ],
            **spec,
        },
    }
    return json.dumps(pod)


def _finished(kind: KindCluster, namespace: str, pod: str) -> str:
    """The Pod's output once it has ended; a failed Pod's output and events in the error."""
    phase = "{.status.phase}"
    for _ in range(180):
        now = kind.kubectl(
            "-n", namespace, "get", "pod", pod, "-o", f"jsonpath={phase}", capture=True
        )
        if now in ("Succeeded", "Failed"):
            break
        kind.kubectl(
            "-n", namespace, "wait", f"pod/{pod}", "--for=delete", "--timeout=1s", check=False
        )
    said = kind.kubectl("-n", namespace, "logs", pod, capture=True, check=False)
    if now != "Succeeded":
        events = kind.kubectl("-n", namespace, "describe", "pod", pod, capture=True, check=False)
        pytest.fail(f"pod {pod} is {now}: {said}\n{events[-1500:]}")
    return said


def test_both_nodes_are_ready_on_the_release_of_the_embedded_api_server(
    kind_cluster: KindCluster,
) -> None:
    nodes = kind_cluster.nodes()

    assert len(nodes) == 2
    assert all(node.ready for node in nodes)
    assert {node.version for node in nodes} == {"v1.36.3"}


def test_a_pod_on_each_node_resolves_services_through_cluster_dns(
    kind_cluster: KindCluster, namespace: str
) -> None:
    for node in kind_cluster.nodes():
        pod = f"dns-{node.name.rsplit('-', 1)[-1]}"
        lookup = "getent hosts kube-dns.kube-system.svc.cluster.local kubernetes.default"
        kind_cluster.kubectl(
            "-n", namespace, "apply", "-f", "-", stdin=_pod(pod, node.name, lookup)
        )

        answered = _finished(kind_cluster, namespace, pod)

        assert "kube-dns.kube-system.svc.cluster.local" in answered, node.name
        assert "kubernetes.default.svc.cluster.local" in answered, node.name


def test_a_claim_binds_to_a_local_volume_that_a_pod_writes(
    kind_cluster: KindCluster, namespace: str
) -> None:
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Mi"}}},
    }
    kind_cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=json.dumps(claim))
    worker = next(n.name for n in kind_cluster.nodes() if "worker" in n.name)
    writer = _pod(
        "writer",
        worker,
        "echo kept > /data/file && cat /data/file",
        container={"volumeMounts": [{"name": "data", "mountPath": "/data"}]},
        volumes=[{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}],
    )
    kind_cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=writer)

    assert _finished(kind_cluster, namespace, "writer").strip() == "kept"
    phase = kind_cluster.kubectl(
        "-n", namespace, "get", "pvc", "data", "-o", "jsonpath={.status.phase}", capture=True
    )
    assert phase == "Bound"


def test_a_privileged_pod_runs(kind_cluster: KindCluster, namespace: str) -> None:
    node = kind_cluster.nodes()[0].name
    privileged = _pod(
        "privileged",
        node,
        "mount -t tmpfs none /mnt && echo made",
        container={"securityContext": {"privileged": True}},
    )
    kind_cluster.kubectl("-n", namespace, "apply", "-f", "-", stdin=privileged)

    assert _finished(kind_cluster, namespace, "privileged").strip() == "made"


def test_a_port_forward_answers_and_leaves_nothing_open(kind_cluster: KindCluster) -> None:
    # Twice: the second forward must not meet the first's leftovers. An output left open (or
    # its reader) is a ResourceWarning, which this suite turns into a failure.
    for _ in range(2):
        with kind_cluster.port_forward("kube-system", "service/kube-dns", 53) as address:
            host, port = address.split(":")
            socket.create_connection((host, int(port)), timeout=10).close()
    gc.collect()
