"""The ports: one small Protocol per pluggable part, each method with a one-line contract.

Adapters implement them; controllers receive them bundled in `Ports` through kopf's memo.
"""

from __future__ import annotations

from dataclasses import dataclass

from paved.ports.cluster import Cluster
from paved.ports.offline import OfflineEngine
from paved.ports.online import OnlineStore
from paved.ports.pipelines import PipelineRunner
from paved.ports.registry import ModelRegistry


@dataclass(frozen=True)
class Ports:
    """Everything a controller may act through; built once by `paved.wiring`."""

    cluster: Cluster
    offline: OfflineEngine
    online: OnlineStore
    runner: PipelineRunner
    registry: ModelRegistry
    data_root: str  # where FeatureView sources with relative paths live
    code_commit: str  # of the training code, recorded as lineage


__all__ = ["Cluster", "ModelRegistry", "OfflineEngine", "OnlineStore", "PipelineRunner", "Ports"]
