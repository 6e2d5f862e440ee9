"""The demo on the embedded platform: processes on loopback, an operator process for the demo's
namespace alone, the data written where that operator reads it."""

from __future__ import annotations

from pathlib import Path

from paved_local.cluster import code_commit
from paved_local.demo.control import DemoCluster
from paved_local.demo.sites import Log
from paved_local.operator_process import OperatorProcess
from paved_local.platform import Endpoints, LocalPlatform


class LocalOperator:
    """`paved operator` as a process of this machine, for one namespace."""

    def __init__(self, process: OperatorProcess, namespace: str) -> None:
        self._process = process
        self.description = f"operator started for {namespace} only (log: {process.log})"

    def check(self) -> None:
        self._process.check()

    def stop(self) -> None:
        # Its log is in the demo's folder already; the demo's end is its training runs' end too.
        self._process.stop()
        self._process.stop_training_runs()


class LocalSite:
    description = (
        "the local platform (API server, etcd, Redis, Prometheus, MLflow, "
        "the Seldon-compatible data plane)"
    )
    requests_per_second = 40.0
    monitors_production = True
    latency_limit_ms: float | None = None

    def __init__(self, platform: LocalPlatform) -> None:
        self.platform = platform
        self.directory = platform.directory

    def up(self, log: Log) -> Endpoints:
        return self.platform.up(None, log)

    def install_paved(self, cluster: DemoCluster) -> None:
        cluster.install_crds()

    def start_operator(
        self, endpoints: Endpoints, directory: Path, namespace: str
    ) -> LocalOperator:
        """Its data root is `directory`/data: what else the cluster holds is not the demo's."""
        environment = {**endpoints.exports(), "PAVED_CODE_COMMIT": code_commit()}
        if endpoints.prediction_log is not None:
            # The data plane's log, which the demo's ModelMonitor reads.
            environment["PAVED_PREDICTION_LOG_ROOT"] = str(endpoints.prediction_log)
        process = OperatorProcess(
            endpoints,
            directory,
            kubeconfig=endpoints.kubeconfig,
            namespaces=[namespace],
            environment=environment,
        )
        process.start()
        return LocalOperator(process, namespace)

    def user_kubeconfig(self, user: str, groups: tuple[str, ...]) -> Path:
        return self.platform.user_kubeconfig(user, groups)

    def publish_data(self, folder: Path, namespace: str) -> None:
        """Nothing to do: the demo writes under the operator's data root."""

    def close(self) -> None:
        """Nothing held: the platform outlives the demo (`paved local down` stops it)."""

    def explore(self, namespace: str) -> list[str]:
        endpoints = self.platform.endpoints()
        return [
            f"explore: MLflow {endpoints.mlflow} · Prometheus {endpoints.prometheus} · "
            f"kubectl -n {namespace} get featureviews,modelversions,rollouts "
            f'(eval "$(paved local env)")',
            "stop everything: paved local down",
        ]
