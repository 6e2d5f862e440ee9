"""paved's charts on a kind cluster, installed as docs/install.md says: the platform chart
(Redis, Prometheus, MLflow, the object store, the data plane, the data claim), then paved's with
two operators wired to it by DNS (`charts/paved/ci/platform-values.yaml`), in one namespace.

The cluster tier's fixtures and the demo on the cluster (`paved demo --on kind`) install through
here, so both run what a user installs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

from paved_local.cluster import REPOSITORY, KindCluster, Log, code_commit
from paved_local.toolchain import ensure_toolchain

NAMESPACE: Final = "paved"
CHARTS: Final = REPOSITORY / "charts"
PLATFORM_VALUES: Final = CHARTS / "paved" / "ci" / "platform-values.yaml"
# Long enough for a first start on a loaded 2-core machine (MLflow's image is the slowest).
_TIMEOUT: Final = "300s"


def install_charts(
    cluster: KindCluster, *, settings: Mapping[str, str] | None = None, log: Log
) -> None:
    """Both charts installed or upgraded (idempotent), every Deployment rolled out. `settings`
    are `--set` values of paved's chart; the operator's code commit is the checkout's (its
    images are built from it), so an upgrade with nothing changed restarts nothing."""
    log(f"helm: charts/paved-platform and charts/paved into the namespace {NAMESPACE}")
    _install_platform(cluster)
    chosen = {"operator.codeCommit": code_commit(), **(settings or {})}
    values = [f"--set={name}={value}" for name, value in chosen.items()]
    paved = ("upgrade", "--install", "paved", str(CHARTS / "paved"), "-f", str(PLATFORM_VALUES))
    _helm(cluster, *paved, *values)
    log("waiting for every Deployment of the two releases to roll out")
    rollout = ("-n", NAMESPACE, "rollout", "status", "deployment")
    cluster.kubectl(*rollout, f"--timeout={_TIMEOUT}")


def install_platform(cluster: KindCluster, *values: Path) -> None:
    """charts/paved-platform alone, with `values` files (its defaults without), every
    Deployment rolled out: say, to switch its model servers on and back off."""
    _install_platform(cluster, *values)
    cluster.kubectl("-n", NAMESPACE, "rollout", "status", "deployment", f"--timeout={_TIMEOUT}")


def _install_platform(cluster: KindCluster, *values: Path) -> None:
    chart = ("upgrade", "--install", "platform", str(CHARTS / "paved-platform"))
    _helm(cluster, *chart, "--create-namespace", *(f"--values={path}" for path in values))


def uninstall_charts(cluster: KindCluster) -> None:
    """Both releases and their namespace (the data claim is kept by its policy until then)."""
    _helm(cluster, "uninstall", "paved")
    _helm(cluster, "uninstall", "platform")
    cluster.kubectl("delete", "namespace", NAMESPACE, "--wait=false")


def _helm(cluster: KindCluster, *args: str) -> None:
    helm = str(ensure_toolchain().helm)
    cluster.run(helm, *args, "--kubeconfig", str(cluster.kubeconfig), "--namespace", NAMESPACE)
