"""The built-in pipeline trains each task's model from the same point-in-time training set,
evaluates it on the task's metrics and logs a model whose pyfunc a model server calls: class
probabilities for a classifier, the value for a regressor."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pytest
from kfp import local

from paved_local.platform import Endpoints
from paved_pipelines.steps import build_training_set
from paved_pipelines.training import tabular_classifier
from tests.support.churn_data import write_task_labels
from tests.support.training import NAMESPACE, task_request


@pytest.fixture(scope="module")
def task_data(data_root: Path) -> Path:
    write_task_labels(data_root / NAMESPACE)
    return data_root


def test_every_task_trains_from_the_same_point_in_time_training_set(task_data: Path) -> None:
    rows = [
        build_training_set(task_request(task_data, task, "same")).drop_columns(["__label"])
        for task in ("regression", "multiclass")
    ]
    assert rows[0].equals(rows[1])


@pytest.mark.parametrize(
    ("task", "metrics", "gate", "served_columns"),
    [
        ("regression", {"rmse", "mae"}, "metric:rmse", 1),
        ("multiclass", {"logLoss", "accuracy", "macroF1"}, "metric:macroF1", 3),
    ],
)
def test_the_pipeline_trains_gates_and_logs_each_task(
    task_data: Path,
    endpoints: Endpoints,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    task: str,
    metrics: set[str],
    gate: str,
    served_columns: int,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", endpoints.mlflow)
    mlflow.set_tracking_uri(endpoints.mlflow)
    request = task_request(task_data, task, f"uid-{uuid.uuid4().hex[:8]}-{task}")
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))

    outcome = json.loads(tabular_classifier(request=request.model_dump_json()).output)

    assert outcome["passed"], outcome["verdicts"]
    assert set(outcome["metrics"]) == metrics
    judged = {v["gate"]: v for v in outcome["verdicts"]}
    assert {gate, "slice:new_users", "golden"} <= set(judged)
    assert judged["golden"]["verdict"] == "pass"
    # What a model server calls: the pyfunc flavour, with the columns the features are.
    served = mlflow.pyfunc.load_model(f"runs:/{outcome['mlflowRunId']}/model")
    frame = build_training_set(request).select(
        ["clicks_7d", "sessions_7d", "tenure_days", "country"]
    )
    predicted = np.asarray(served.predict(frame.slice(0, 5).to_pandas()))
    assert predicted.reshape(5, -1).shape[1] == served_columns
    if task == "regression":  # a value, not a probability
        assert predicted.max() > 1
    else:
        np.testing.assert_allclose(predicted.sum(axis=1), 1.0)
