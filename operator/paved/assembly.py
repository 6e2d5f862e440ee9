"""Adapters from settings: the one place that maps a configured name to an implementation.

Shared by the operator (`paved.wiring`), the SDK and the servers; it imports neither kopf nor
the controllers, so a feature server does not register the operator's handlers.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from paved.api.streaming_prediction import ScoringMode
from paved.ports import (
    LabelRows,
    ModelLoader,
    ModelRegistry,
    OfflineEngine,
    OnlineStore,
    PipelineRunner,
    PredictionFiles,
    PredictionLog,
)
from paved.ports.streaming import Scorer
from paved.settings import OperatorSettings, RunnerName


def offline_engine(settings: OperatorSettings) -> OfflineEngine:
    """The configured engine; imported lazily so Spark loads only when chosen."""
    match settings.offline_engine:
        case "duckdb":
            from paved.adapters.offline.duckdb import DuckDBEngine

            return DuckDBEngine()
        case "spark":
            from pyspark.sql import SparkSession

            from paved.adapters.offline.spark import SparkEngine

            session = SparkSession.builder.master(settings.spark_master).appName("paved")
            return SparkEngine(session.getOrCreate())


def online_store(settings: OperatorSettings) -> OnlineStore:
    from paved.adapters.online.redis import RedisOnlineStore

    return RedisOnlineStore.from_url(settings.redis_url)


def pipeline_runner(settings: OperatorSettings) -> PipelineRunner:
    match settings.pipeline_runner:
        case RunnerName.KFP_LOCAL:
            from paved.adapters.pipelines.kfp_local import KfpLocalRunner

            return KfpLocalRunner(Path(settings.state_dir) / "runs")
        case RunnerName.KFP_DOCKER:
            from paved.adapters.pipelines.kfp_docker import DockerTasks
            from paved.adapters.pipelines.kfp_local import KfpLocalRunner

            tasks = DockerTasks.for_training(settings.data_root, settings.mlflow_tracking_uri)
            return KfpLocalRunner(Path(settings.state_dir) / "runs", docker=tasks)
        case RunnerName.KFP_API:
            from paved.adapters.pipelines.kfp_api import KfpApiRunner

            return KfpApiRunner.from_host(settings.kfp_host)


def model_registry(settings: OperatorSettings) -> ModelRegistry:
    from paved.adapters.registry.mlflow import MlflowRegistry

    return MlflowRegistry(settings.mlflow_tracking_uri)


def model_loader(settings: OperatorSettings) -> ModelLoader:
    from paved.adapters.models.mlflow import MlflowModels

    return MlflowModels(settings.mlflow_tracking_uri)


def prediction_files() -> PredictionFiles:
    from paved.adapters.offline.prediction_files import ParquetPredictionFiles

    return ParquetPredictionFiles()


def prediction_log(settings: OperatorSettings) -> PredictionLog:
    """The log ModelMonitors read and batch and streaming predictions write: where the data
    plane writes it (by default the data root)."""
    from paved.adapters.prediction_log.parquet import ParquetPredictionLog

    return ParquetPredictionLog(settings.prediction_log_root or settings.data_root)


def label_rows(settings: OperatorSettings) -> LabelRows:
    from paved.adapters.offline.labels import ParquetLabels

    return ParquetLabels(settings.data_root)


def scorer(mode: ScoringMode, model_uri: str, endpoint: str | None) -> Scorer:
    """A stream worker's scorer for `mode` (`adapters/scoring`'s table), its model loaded."""
    from paved.adapters.scoring import IMPLEMENTATIONS

    module, name = IMPLEMENTATIONS[mode]
    implementation: Any = getattr(importlib.import_module(module), name)
    loaded: Scorer = implementation.load(model_uri, endpoint)
    return loaded
