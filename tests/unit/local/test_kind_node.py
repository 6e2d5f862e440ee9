"""The kind node's pinned inputs agree with the embedded platform, and kind-config.yaml lets
kubelet start on cgroup v1 hosts without changing anything on cgroup v2 ones."""

from __future__ import annotations

from pathlib import Path

import yaml

from paved_local.cluster import KindCluster, image_tags, node_versions
from paved_local.toolchain import KUBERNETES_VERSION

ROOT = Path(__file__).resolve().parents[3]


def test_the_node_runs_the_kubernetes_release_of_the_embedded_api_server() -> None:
    assert node_versions()["KUBERNETES_VERSION"] == KUBERNETES_VERSION


def test_versions_env_reads_values_without_their_comments(tmp_path: Path) -> None:
    pinned = tmp_path / "versions.env"
    pinned.write_text("# why\nKIND_VERSION=v0.33.0\nCOREDNS_VERSION=v1.14.2  # kubeadm's\n")

    assert node_versions(pinned) == {"KIND_VERSION": "v0.33.0", "COREDNS_VERSION": "v1.14.2"}


def test_kind_config_lets_kubelet_run_on_cgroup_v1() -> None:
    config = yaml.safe_load((ROOT / "kind-config.yaml").read_text())
    patches = [yaml.safe_load(patch) for patch in config["kubeadmConfigPatches"]]

    kubelet = next(p for p in patches if p["kind"] == "KubeletConfiguration")
    assert kubelet["failCgroupV1"] is False
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker"]


def test_a_cluster_keeps_its_kubeconfig_under_its_own_state(tmp_path: Path) -> None:
    cluster = KindCluster(name="ci", directory=tmp_path / "ci")

    assert cluster.kubeconfig == tmp_path / "ci" / "kubeconfig"
    assert cluster.exports() == {
        "KUBECONFIG": str(tmp_path / "ci" / "kubeconfig"),
        "PAVED_CLUSTER": "ci",
    }


def test_the_images_to_load_are_the_tags_make_image_prints() -> None:
    printed = (
        "operator         ghcr.io/paved-dev/paved:0.1.0-python3.11          1098 MB   41 s\n"
        "redis            ghcr.io/paved-dev/paved-redis:0.1.0                 86 MB    0 s\n"
    )

    assert image_tags(printed) == [
        "ghcr.io/paved-dev/paved:0.1.0-python3.11",
        "ghcr.io/paved-dev/paved-redis:0.1.0",
    ]
