"""Batch and streaming prediction write one score per entity or event: a multiclass model,
whose positive-class column would be one class of k, is refused with why, never served as if
its first class were the score (ADR 0039)."""

from __future__ import annotations

from pathlib import Path

import httpx
import mlflow.sklearn
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from paved.adapters.models.mlflow import MlflowModels
from paved.adapters.scoring.in_process import InProcessScorer
from paved.adapters.scoring.seldon_v1 import SeldonScorer
from paved.ports.models import ModelUnloadableError


def _saved(tmp_path: Path, classes: int) -> str:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"x": rng.normal(size=90), "y": rng.normal(size=90)})
    model = LogisticRegression().fit(frame, np.arange(90) % classes)
    path = tmp_path / f"model-{classes}"
    # Declared requirements: inferring them runs the model in a subprocess (half a minute).
    mlflow.sklearn.save_model(model, str(path), pip_requirements=["scikit-learn"])
    return str(path)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[int, str]:
    root = tmp_path_factory.mktemp("models")
    return {classes: _saved(root, classes) for classes in (2, 3)}


def test_batch_prediction_refuses_a_multiclass_model(models: dict[int, str]) -> None:
    loader = MlflowModels("http://127.0.0.1:9")  # a local path: the tracking server is unused
    assert loader.load(models[2]).features == ("x", "y")
    with pytest.raises(ModelUnloadableError, match=r"multiclass model \(3 classes\)"):
        loader.load(models[3])


def test_an_in_process_stream_worker_refuses_a_multiclass_model(models: dict[int, str]) -> None:
    assert len(InProcessScorer.load(models[2], None).score(pd.DataFrame({"x": [0.1], "y": [0.2]})))
    with pytest.raises(ValueError, match="one score per event"):
        InProcessScorer.load(models[3], None)


def _endpoint(ndarray: list[object]) -> SeldonScorer:
    answer = {"data": {"names": ["t:0", "t:1", "t:2"], "ndarray": ndarray}}
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=answer))
    return SeldonScorer("http://serving/api/v1.0/predictions", httpx.Client(transport=transport))


def test_a_stream_scored_through_an_endpoint_refuses_class_probabilities() -> None:
    frame = pd.DataFrame({"x": [0.1]})
    assert _endpoint([[0.3, 0.7]]).score(frame) == [0.7]  # a binary model's two columns
    with pytest.raises(ValueError, match=r"class probabilities \(3 a row\)"):
        _endpoint([[0.2, 0.5, 0.3]]).score(frame)
