"""The operator's settings, from PAVED_* environment variables (or the `paved operator` flags)."""

from __future__ import annotations

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
    peering: str | None = Field(
        default=None, description="kopf peering name for a standby replica; None: standalone."
    )
