"""A model's production version that is a rule: what a first trained model replaces."""

from __future__ import annotations

import asyncio

import mlflow
import mlflow.sklearn
import numpy as np
from sklearn.dummy import DummyClassifier

from paved.adapters.registry.mlflow import MlflowRegistry
from paved.api.model_version import Stage
from paved_local.platform import Endpoints


def register_production_rule(endpoints: Endpoints, model: str) -> str:
    """Register a constant rule (every score 1.0) as `model`'s production; its storage URI."""
    mlflow.set_tracking_uri(endpoints.mlflow)
    rule = DummyClassifier(strategy="constant", constant=1).fit(np.zeros((2, 1)), [0, 1])
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(rule, name="model")
    registry = MlflowRegistry(endpoints.mlflow)
    version = asyncio.run(registry.register(model, run.info.run_id, "rule", {}))
    asyncio.run(registry.set_stage(model, version.version, Stage.PRODUCTION))
    return version.uri
