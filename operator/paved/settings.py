"""The operator's settings, from PAVED_* environment variables (or the `paved operator` flags)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    offline_engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str = "local[2]"
    redis_url: str = "redis://127.0.0.1:6379/0"
    prometheus_url: str = "http://127.0.0.1:9090"
    pipeline_runner: Literal["kfp-local", "kfp-api"] = "kfp-local"
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
