"""Where the demo runs: the embedded platform (`make demo`, `local.py`) or a kind cluster with
paved installed by Helm (`make demo-cluster`, `kind.py`). The story (`scenario.py`) is one and
the same on both; a site gives it the endpoints, paved's CRDs, an operator, a person's
kubeconfig and a place for the data the operator reads.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, assert_never

from paved_local.demo.control import DemoCluster
from paved_local.platform import Endpoints

Log = Callable[[str], None]


class SiteName(enum.StrEnum):
    LOCAL = "local"
    KIND = "kind"


class Operator(Protocol):
    """The operator the demo's resources are reconciled by."""

    description: str  # for the story: where it runs and where its log is

    def check(self) -> None:
        """An error naming what happened, with the end of its log, once it has stopped."""

    def stop(self) -> None:
        """The demo is over: stop what the demo started, keep its log in the demo's folder."""


class Site(Protocol):
    directory: Path  # each run's folder goes under <directory>/demo/
    description: str  # "the local platform (API server, etcd, …)"
    # The load a two-core laptop serves beside everything else the demo runs (training, the
    # operator, Prometheus) with the latency guardrail's headroom: what the demo sends unless told.
    requests_per_second: float
    # Whether a ModelMonitor here reads the data plane's prediction log (the fourth act).
    monitors_production: bool
    # The p99 the Rollouts' latency guardrail allows here; None: the manifests' own (1 s).
    latency_limit_ms: float | None

    def up(self, log: Log) -> Endpoints:
        """Everything the demo talks to, running and reachable from this process."""

    def install_paved(self, cluster: DemoCluster) -> None:
        """paved's CRDs and the sign-off policy, if the site has not installed them yet."""

    def start_operator(self, endpoints: Endpoints, directory: Path, namespace: str) -> Operator:
        """An operator that reconciles `namespace`, its log kept in `directory`."""

    def user_kubeconfig(self, user: str, groups: tuple[str, ...]) -> Path:
        """A person's credentials, checked by the API server."""

    def publish_data(self, folder: Path, namespace: str) -> None:
        """`folder` (the namespace's data, written here) where the operator reads `namespace`'s
        data from."""

    def close(self) -> None:
        """Release what `up` holds for this process (never the platform itself)."""

    def explore(self, namespace: str) -> list[str]:
        """Where a person looks next, printed at the end."""


def site_for(name: SiteName, *, directory: Path | None, cluster: str | None) -> Site:
    """The site `name`: the local platform at `directory`, or the kind cluster `cluster`."""
    # Imported here: the kind site needs Docker's tooling, the local one does not.
    match name:
        case SiteName.LOCAL:
            from paved_local.demo.sites.local import LocalSite
            from paved_local.platform import LocalPlatform

            return LocalSite(LocalPlatform(directory))
        case SiteName.KIND:
            from paved_local.cluster import DEFAULT_NAME, KindCluster
            from paved_local.demo.sites.kind import KindSite

            return KindSite(KindCluster(name=cluster or DEFAULT_NAME), directory=directory)
        case unknown:
            assert_never(unknown)
