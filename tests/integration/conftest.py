"""Two scoring models registered once for the integration tier: the data plane's and the
routers' tests serve them (registering one costs seconds of MLflow logging)."""

from __future__ import annotations

import asyncio
import uuid

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from paved.adapters.registry.mlflow import MlflowRegistry
from paved_local.platform import Endpoints


def _register(endpoints: Endpoints, model: str, leaning: int) -> str:
    """A model that scores high for x > 0 (`leaning` 1) or low for every x (`leaning` 0)."""
    mlflow.set_tracking_uri(endpoints.mlflow)
    x = np.linspace(-3, 3, 60).reshape(-1, 1)
    y = (x[:, 0] > 0).astype(int) if leaning else np.r_[np.zeros(59), 1].astype(int)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LogisticRegression().fit(x, y), name="model")
    registry = MlflowRegistry(endpoints.mlflow)
    version = asyncio.run(registry.register(model, run.info.run_id, uuid.uuid4().hex, {}))
    return version.uri


@pytest.fixture(scope="session")
def models(endpoints: Endpoints) -> tuple[str, str]:
    """(low, high): scores low for every x, and high for x > 0."""
    name = f"dp-{uuid.uuid4().hex[:6]}"
    return _register(endpoints, name, 0), _register(endpoints, name, 1)
