"""A multiclass model served by the local data plane answers each row's class probabilities as
Seldon's and KServe's scikit-learn servers do (`t:0` … `t:2` on Seldon v1, an output of shape
[rows, 3] on V2), logs them beside the top class's probability, and is refused a ranking it
has no one score for (ADR 0039)."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import httpx
import mlflow
import numpy as np
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from paved.adapters.prediction_log import parquet
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.core.prediction_log import LogKind
from paved.core.serving import MODEL_ANNOTATION, MODEL_VERSION_ANNOTATION
from paved_local.platform import Endpoints
from tests.support.kubectl import Kubectl
from tests.support.seldon import predictor, seldon_deployment
from tests.support.waiting import wait_for

MODEL = "tiers"


@pytest.fixture(scope="module")
def three_classes(endpoints: Endpoints) -> str:
    """A model of three tiers by x: 0 below -1, 2 above 1, 1 between."""
    mlflow.set_tracking_uri(endpoints.mlflow)
    x = np.linspace(-3, 3, 90).reshape(-1, 1)
    with mlflow.start_run() as run:
        model = LogisticRegression().fit(x, np.digitize(x[:, 0], [-1.0, 1.0]))
        mlflow.sklearn.log_model(model, name="model")
    registry = MlflowRegistry(endpoints.mlflow)
    name = f"tiers-{uuid.uuid4().hex[:6]}"
    return asyncio.run(registry.register(name, run.info.run_id, uuid.uuid4().hex, {})).uri


@pytest.fixture
def base(endpoints: Endpoints, kubectl: Kubectl, namespace: str, three_classes: str) -> str:
    annotations = {MODEL_ANNOTATION: f"{namespace}.{MODEL}", MODEL_VERSION_ANNOTATION: "1"}
    body = seldon_deployment("tiers", predictor("main", three_classes, annotations=annotations))
    kubectl.apply(yaml.safe_dump(body), "-n", namespace)
    url = f"{endpoints.dataplane}/seldon/{namespace}/tiers"
    wait_for(
        lambda: _predict(url, [[0.0]]).status_code == 200,
        timeout=180,  # a first fetch of the model takes a minute or more on a busy machine
        what="the data plane to serve the deployment",
    )
    return url


def _predict(url: str, rows: list[list[float]], puid: str | None = None) -> httpx.Response:
    body = {"data": {"names": ["x"], "ndarray": rows}, "meta": {"puid": puid} if puid else {}}
    return httpx.post(f"{url}/api/v1.0/predictions", json=body)


def test_seldon_v1_answers_each_rows_class_probabilities(base: str) -> None:
    answer = _predict(base, [[-2.5], [0.0], [2.5]]).json()

    assert answer["data"]["names"] == ["t:0", "t:1", "t:2"]
    probabilities = np.array(answer["data"]["ndarray"])
    assert probabilities.shape == (3, 3)
    assert np.allclose(probabilities.sum(axis=1), 1.0)
    assert probabilities.argmax(axis=1).tolist() == [0, 1, 2]


def test_v2_answers_an_output_of_rows_by_classes(base: str) -> None:
    body = {"inputs": [{"name": "x", "shape": [2], "datatype": "FP64", "data": [-2.5, 2.5]}]}
    answer = httpx.post(f"{base}/v2/models/classifier/infer", json=body).json()

    output = answer["outputs"][0]
    assert output["shape"] == [2, 3]
    assert np.array(output["data"]).reshape(2, 3).argmax(axis=1).tolist() == [0, 2]


def test_a_multiclass_model_cannot_rank(base: str) -> None:
    body = {
        "data": {"names": ["x"], "ndarray": [[1.0], [2.0]]},
        "meta": {"tags": {"items": ["a", "b"]}},
    }
    refused = httpx.post(f"{base}/api/v1.0/rank", json=body)

    assert refused.status_code == 400
    assert "3 class probabilities a row" in refused.text


def test_the_log_keeps_the_class_vector_and_the_top_probability(
    base: str, endpoints: Endpoints, namespace: str
) -> None:
    answer = _predict(base, [[2.5]], puid="tier-top").json()
    assert endpoints.prediction_log is not None
    root, today = str(endpoints.prediction_log), dt.datetime.now(dt.UTC).date()

    def logged() -> dict[str, object] | None:
        table = parquet.read(root, namespace, LogKind.PREDICTIONS, MODEL, [today])
        rows = [r for r in table.to_pylist() if r["request_id"] == "tier-top"]
        return rows[0] if rows else None

    row = wait_for(logged, timeout=30, what="the data plane to write the prediction")
    vector = answer["data"]["ndarray"][0]
    assert row["class_scores"] == pytest.approx(vector)
    assert row["score"] == pytest.approx(max(vector))
