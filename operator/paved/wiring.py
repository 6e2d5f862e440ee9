"""The composition root: settings → adapters → `Ports` in kopf's memo; then run kopf.

The only module that imports both controllers and adapters; the adapters themselves are built
by `paved.assembly`, which the SDK and the servers share without importing kopf.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final

import kopf
from prometheus_client import start_http_server

import paved.controllers  # noqa: F401  (registers the handlers)
from paved.adapters.kubernetes_api import api_client
from paved.assembly import (
    label_rows,
    model_loader,
    model_registry,
    offline_engine,
    online_store,
    pipeline_runner,
    prediction_files,
    prediction_log,
)
from paved.controllers._kopf import WatchedCluster
from paved.ports import Ports
from paved.settings import OperatorSettings

IO_THREADS: Final = 32


def build_ports(settings: OperatorSettings) -> Ports:
    from paved.adapters.kubernetes.model_versions import KubernetesModelVersions, KubernetesReverts
    from paved.adapters.kubernetes.pipeline_sources import ConfigMapPipelines
    from paved.adapters.metrics.prometheus import PrometheusMetrics
    from paved.adapters.streams.redis import RedisBacklogs
    from paved.adapters.traffic import KubernetesRouters
    from paved.adapters.workers.processes import ProcessWorkers

    # Pipeline runs are processes of their own: they find MLflow the way the operator does.
    os.environ["MLFLOW_TRACKING_URI"] = settings.mlflow_tracking_uri
    kubernetes = api_client(settings.kubeconfig, connections=IO_THREADS)
    log = prediction_log(settings)
    return Ports(
        # Replaced at each handler call by a view of kopf's indices (`controllers._kopf`).
        cluster=WatchedCluster({}),
        # One per Rollout, from its target's backend (imported when first needed).
        routers=KubernetesRouters(kubernetes),
        metrics=PrometheusMetrics(settings.prometheus_url, connections=IO_THREADS),
        offline=offline_engine(settings),
        online=online_store(settings),
        runner=pipeline_runner(settings),
        registry=model_registry(settings),
        data_root=settings.data_root,
        code_commit=settings.code_commit,
        online_url=settings.redis_url,
        models=model_loader(settings),
        predictions=prediction_files(),
        workers=ProcessWorkers(Path(settings.state_dir) / "stream-workers"),
        backlogs=RedisBacklogs.from_url(settings.redis_url),
        prediction_log=log,
        labels=label_rows(settings),
        prediction_log_writer=log,
        model_versions=KubernetesModelVersions(kubernetes),
        reverts=KubernetesReverts(kubernetes),
        pipelines=ConfigMapPipelines(kubernetes),
    )


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    """In a pod, its service account; elsewhere KUBECONFIG, read when kopf logs in."""
    info: kopf.ConnectionInfo | None = kopf.login_with_service_account(
        **kwargs
    ) or kopf.login_with_kubeconfig(**kwargs)
    return info


@kopf.on.startup()
async def configure(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    paved_settings: OperatorSettings = memo.get("settings") or OperatorSettings()
    memo["ports"] = build_ports(paved_settings)
    # Status belongs to paved (and its schema prunes anything else): kopf keeps its own
    # bookkeeping in annotations.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="paved.dev")
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(prefix="paved.dev")
    settings.posting.level = logging.INFO
    settings.watching.server_timeout = 300
    settings.peering.lifetime = paved_settings.peering_lifetime_seconds
    if paved_settings.metrics_port:
        start_http_server(paved_settings.metrics_port, paved_settings.metrics_address)


def run(settings: OperatorSettings) -> None:
    """Run the operator until interrupted; liveness answers on /healthz."""
    if settings.kubeconfig:
        os.environ["KUBECONFIG"] = settings.kubeconfig  # kopf logs in from the environment
    kopf.configure(verbose=settings.verbose, quiet=not settings.verbose)
    # Quiet or not, the log tells what the operator did (the Events it posts, a line each).
    logging.getLogger("paved.events").setLevel(logging.INFO)
    asyncio.run(_operate(settings))


async def _operate(settings: OperatorSettings) -> None:
    # Adapters' blocking calls (the Kubernetes and Prometheus clients) wait on the network in
    # worker threads. asyncio's default pool has cores + 4 of them: with hundreds of Rollouts
    # analysing, calls queued behind each other and analyses ran seconds late.
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="paved-io")
    )
    await kopf.operator(
        clusterwide=not settings.namespaces,
        namespaces=settings.namespaces,
        standalone=settings.peering is None,
        peering_name=settings.peering,
        # The oldest replica leads, a later one stands by: equal priorities would pause both.
        priority=-time.time_ns() // 1000,
        liveness_endpoint=f"http://{settings.health_address}:{settings.health_port}/healthz",
        memo=kopf.Memo(settings=settings),
    )
