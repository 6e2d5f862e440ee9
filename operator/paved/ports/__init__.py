"""The ports: one small Protocol per pluggable part, each method with a one-line contract.

Adapters implement them; controllers receive them bundled in `Ports` through kopf's memo.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from paved.ports.cluster import Cluster
    from paved.ports.metrics import MetricsProvider
    from paved.ports.models import ModelLoader
    from paved.ports.monitoring import (
        LabelRows,
        ModelVersionCreator,
        PredictionLog,
        PredictionLogReader,
        PredictionLogWriter,
        RolloutReverter,
    )
    from paved.ports.offline import OfflineEngine
    from paved.ports.online import OnlineStore
    from paved.ports.pipelines import PipelineRunner, PipelineSources
    from paved.ports.predictions import PredictionFiles
    from paved.ports.registry import ModelRegistry
    from paved.ports.streaming import StreamBacklogs, StreamWorkers
    from paved.ports.traffic import Routers, TrafficRouter

# Each port's module, loaded when its name is first asked for: the SDK imports
# `paved.ports.offline` and `paved.ports.online`, and should not pay for the Rollout's and the
# registry's models and decisions too (issue #21: `import paved.features` well under a second).
_MODULES = {
    "Cluster": "cluster",
    "MetricsProvider": "metrics",
    "ModelLoader": "models",
    "LabelRows": "monitoring",
    "ModelVersionCreator": "monitoring",
    "PredictionLog": "monitoring",
    "PredictionLogReader": "monitoring",
    "PredictionLogWriter": "monitoring",
    "RolloutReverter": "monitoring",
    "OfflineEngine": "offline",
    "OnlineStore": "online",
    "PipelineRunner": "pipelines",
    "PipelineSources": "pipelines",
    "PredictionFiles": "predictions",
    "ModelRegistry": "registry",
    "StreamBacklogs": "streaming",
    "StreamWorkers": "streaming",
    "Routers": "traffic",
    "TrafficRouter": "traffic",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_MODULES[name]}"), name)


@dataclass(frozen=True)
class Ports:
    """Everything a controller may act through; built once by `paved.wiring`."""

    cluster: Cluster
    offline: OfflineEngine
    online: OnlineStore
    runner: PipelineRunner
    registry: ModelRegistry
    routers: Routers  # the traffic router for each Rollout's target
    metrics: MetricsProvider
    data_root: str  # namespace N's sources and labels live under <data_root>/N/ and only there
    code_commit: str  # of the training code, recorded as lineage
    # Where a training run reads the online store's current values (serving inputs, for the
    # drift gate); None: the run judges no drift against serving.
    online_url: str | None = None
    # Batch predictions: the models that score, and where entities come from and runs go;
    # None: this operator scores none (a BatchPrediction says so on its Ready condition).
    models: ModelLoader | None = None
    predictions: PredictionFiles | None = None
    # Where StreamingPredictions' consumers run, and their streams' backlogs; None: this
    # operator runs none (their Ready condition says so).
    workers: StreamWorkers | None = None
    backlogs: StreamBacklogs | None = None
    # What ModelMonitors read: the prediction log, and the labels their training sets joined
    # features to; None: this operator monitors nothing (a monitor says so on Watching).
    prediction_log: PredictionLogReader | None = None
    labels: LabelRows | None = None
    # Where batch predictions log their sample of what they served (ADR 0044); None: not logged.
    prediction_log_writer: PredictionLogWriter | None = None
    # Where a monitor's retraining creates its ModelVersion; None: no monitor retrains.
    model_versions: ModelVersionCreator | None = None
    # Where a monitor's revert asks the promoting Rollout; None: no monitor reverts.
    reverts: RolloutReverter | None = None
    # Where a team's compiled pipeline is read (ConfigMaps); None: only built-in pipelines run.
    pipelines: PipelineSources | None = None


__all__ = [
    "Cluster",
    "LabelRows",
    "MetricsProvider",
    "ModelLoader",
    "ModelRegistry",
    "ModelVersionCreator",
    "OfflineEngine",
    "OnlineStore",
    "PipelineRunner",
    "PipelineSources",
    "Ports",
    "PredictionFiles",
    "PredictionLog",
    "PredictionLogReader",
    "PredictionLogWriter",
    "RolloutReverter",
    "Routers",
    "StreamBacklogs",
    "StreamWorkers",
    "TrafficRouter",
]
