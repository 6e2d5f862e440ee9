"""The operator's settings, from PAVED_* environment variables (or the `paved operator` flags)."""

from __future__ import annotations

import os
from enum import StrEnum
from typing import Final, Literal, Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Where the training pipeline's task Pods mount the data volume (`paved_pipelines.training`):
# with kfp-api, the run's request names paths under the operator's data root, so the two agree.
TASK_DATA_ROOT: Final = "/data"


class RunnerName(StrEnum):
    """Where a ModelVersion's training run executes its tasks (ADR: training as containers)."""

    KFP_LOCAL = "kfp-local"  # KFP's local runner, each task a process beside the operator
    KFP_DOCKER = "kfp-docker"  # KFP's local runner, each task a container of the training image
    KFP_API = "kfp-api"  # a KFP installation: each task a Pod of the cluster


class OperatorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PAVED_", frozen=True)

    namespaces: list[str] = Field(
        default_factory=list, description="Namespaces to watch; empty means the whole cluster."
    )
    kubeconfig: str | None = Field(default=None, description="Default: in-cluster or KUBECONFIG.")
    metrics_address: str = "0.0.0.0"
    metrics_port: int = Field(default=9808, ge=0, le=65535)
    health_address: str = "0.0.0.0"
    health_port: int = Field(default=8080, ge=0, le=65535)
    data_root: str = Field(
        default_factory=os.getcwd,
        description="Namespace N's FeatureView sources and labels live under <data_root>/N/.",
    )
    prediction_log_root: str | None = Field(
        default=None,
        description="Where the data plane's prediction log is (<root>/N/predictions/...), for "
        "ModelMonitors; default: data_root.",
    )
    offline_engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[2]"
    redis_url: str = "redis://127.0.0.1:6379/0"
    prometheus_url: str = "http://127.0.0.1:9090"
    pipeline_runner: RunnerName = RunnerName.KFP_LOCAL
    kfp_host: str = Field(
        default="http://ml-pipeline.kubeflow.svc.cluster.local:8888",
        description="The KFP API endpoint, for kfp-api (default: KFP's in-cluster service).",
    )
    mlflow_tracking_uri: str = Field(
        default_factory=lambda: os.environ.get("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    )
    state_dir: str = Field(
        default_factory=lambda: os.path.expanduser("~/.local/state/paved/operator"),
        description="Where the local pipeline runner keeps its runs.",
    )
    code_commit: str = Field(
        default="unknown", description="The commit of the training code, recorded as lineage."
    )
    peering: str | None = Field(
        default=None, description="kopf peering name for a standby replica; None: standalone."
    )
    verbose: bool = Field(
        default=False,
        description="Log at INFO: kopf then logs every timer tick, a line per object per second "
        "for Rollouts. Default: warnings and errors only.",
    )
    peering_lifetime_seconds: int = Field(
        default=60,
        ge=5,
        description="How long a silent peer counts as alive: after a crash, a standby waits "
        "this long before it takes over (kopf's default is 60).",
    )

    @property
    def in_pod(self) -> bool:
        """Whether the operator runs in a Pod: Kubernetes sets KUBERNETES_SERVICE_HOST in every
        container (read from the environment, never a setting: a Pod cannot opt out)."""
        return "KUBERNETES_SERVICE_HOST" in os.environ

    @model_validator(mode="after")
    def _training_runs_where_its_data_is(self) -> Self:
        """Refuse runners whose tasks would read the operator's own filesystem, or run beside
        its Pod, outside the cluster's scheduling and limits."""
        match self.pipeline_runner:
            case RunnerName.KFP_API if self.data_root != TASK_DATA_ROOT:
                raise ValueError(
                    f"PAVED_PIPELINE_RUNNER=kfp-api: the pipeline's task Pods read the training "
                    f"data from the volume they mount at {TASK_DATA_ROOT}, so PAVED_DATA_ROOT must "
                    f"be {TASK_DATA_ROOT}, not {self.data_root!r}: a path on the operator's "
                    "filesystem means nothing in a task Pod"
                )
            case RunnerName.KFP_DOCKER if self.in_pod:
                raise ValueError(
                    "PAVED_PIPELINE_RUNNER=kfp-docker starts training containers on a Docker "
                    "engine, and the operator runs in a Pod: they would run beside the cluster, "
                    "outside its scheduling and limits. In a cluster, set kfp-api"
                )
            case _:
                pass
        return self
