"""The platform's data plane logs every prediction it serves, with the request id, entity, registry
version, features and score, into the namespace's Parquet partitions; Seldon feedback lands in
the outcomes beside them, and the join labels each prediction with its own feedback."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import httpx
import yaml

from paved.adapters.prediction_log import parquet
from paved.core.prediction_log import LogKind
from paved.core.serving import MODEL_ANNOTATION, MODEL_VERSION_ANNOTATION
from paved_local.platform import Endpoints
from tests.support.kubectl import Kubectl
from tests.support.seldon import predictor, seldon_deployment
from tests.support.waiting import wait_for


def _deploy(kubectl: Kubectl, namespace: str, uri: str) -> None:
    annotations = {MODEL_ANNOTATION: f"{namespace}.churn", MODEL_VERSION_ANNOTATION: "3"}
    body = seldon_deployment("churn-serving", predictor("main", uri, annotations=annotations))
    kubectl.apply(yaml.safe_dump(body), "-n", namespace)


def _predict(url: str, user: int, x: float) -> httpx.Response:
    meta = {"puid": f"req-{user}", "tags": {"entity": {"user_id": user}}}
    return httpx.post(url, json={"data": {"names": ["x"], "ndarray": [[x]]}, "meta": meta})


def _served(kubectl: Kubectl, endpoints: Endpoints, namespace: str, uri: str) -> str:
    """Deploy `uri` as churn version 3 and wait until it answers; its API's base URL."""
    _deploy(kubectl, namespace, uri)
    base = f"{endpoints.dataplane}/seldon/{namespace}/churn-serving/api/v1.0"
    wait_for(
        lambda: _predict(base + "/predictions", 0, 0.0).status_code == 200,
        timeout=180,  # a first fetch of the model takes a minute or more on a busy machine
        what="the data plane to serve the deployment",
    )
    return base


def _logged(endpoints: Endpoints, namespace: str, kind: LogKind, rows: int) -> Any:
    assert endpoints.prediction_log is not None
    today = dt.datetime.now(dt.UTC).date()
    table = parquet.read(str(endpoints.prediction_log), namespace, kind, "churn", [today])
    return table if table.num_rows >= rows else None


def test_predictions_and_feedback_are_logged_and_joined(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    _, high = models
    base = _served(kubectl, endpoints, namespace, high)
    answers = {user: _predict(base + "/predictions", user, user - 5.0).json() for user in range(10)}
    assert answers[3]["meta"]["puid"] == "req-3"  # the caller's request id, as Seldon keeps it
    for user in range(0, 10, 2):
        truth = {"data": {"ndarray": [[user % 4 // 2]]}}  # what the user did: the label
        feedback = {"response": answers[user], "reward": 1.0, "truth": truth}
        assert httpx.post(base + "/feedback", json=feedback).status_code == 200
    # A reward alone says how well the answer served, not what was true: never a label.
    rewarded = {"response": answers[1], "reward": 1.0}
    assert httpx.post(base + "/feedback", json=rewarded).status_code == 200
    not_a_label = {"response": answers[3], "reward": 1.0, "truth": {"data": {"ndarray": [["x"]]}}}
    refused = httpx.post(base + "/feedback", json=not_a_label)
    assert refused.status_code == 400
    assert "truth" in refused.text

    table = wait_for(
        lambda: _logged(endpoints, namespace, LogKind.PREDICTIONS, 11),
        timeout=30,
        what="the data plane to write the predictions",
    )
    rows = {row["request_id"]: row for row in table.to_pylist()}
    assert rows["req-7"]["entity"] == '{"user_id":7}'
    assert json.loads(rows["req-7"]["features"]) == {"x": 2.0}
    assert rows["req-7"]["score"] == answers[7]["data"]["ndarray"][0]
    assert (rows["req-7"]["model_version"], rows["req-7"]["predictor"]) == ("3", "main")

    outcomes = wait_for(
        lambda: _logged(endpoints, namespace, LogKind.OUTCOMES, 11),  # 6 rewards, 5 truths
        timeout=30,
        what="the data plane to write the feedback",
    )
    assert sorted(r["kind"] for r in outcomes.to_pylist()).count("reward") == 6
    assert endpoints.prediction_log is not None
    joined = parquet.joined(
        str(endpoints.prediction_log),
        namespace,
        "churn",
        days=[dt.datetime.now(dt.UTC).date()],
        as_of=dt.datetime.now(dt.UTC),
        horizon=dt.timedelta(days=1),
    )
    labelled = {j.prediction.request_id: j.outcome.value for j in joined if j.outcome}
    assert labelled == {f"req-{user}": float(user % 4 // 2) for user in range(0, 10, 2)}


def test_an_entity_that_does_not_match_the_rows_is_refused(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    low, _ = models
    url = _served(kubectl, endpoints, namespace, low) + "/predictions"
    two_rows = {
        "data": {"names": ["x"], "ndarray": [[1.0], [2.0]]},
        "meta": {"tags": {"entity": {"user_id": 1}}},
    }
    refused = httpx.post(url, json=two_rows)
    assert refused.status_code == 400
    assert "one object of join keys per row" in refused.text


def test_an_inference_service_logs_v2_requests_by_their_id_and_entity(
    endpoints: Endpoints, kubectl: Kubectl, namespace: str, models: tuple[str, str]
) -> None:
    _, high = models
    service = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {
            "name": "churn",
            "annotations": {MODEL_ANNOTATION: f"{namespace}.churn", MODEL_VERSION_ANNOTATION: "4"},
        },
        "spec": {"predictor": {"model": {"modelFormat": {"name": "mlflow"}, "storageUri": high}}},
    }
    kubectl.apply(yaml.safe_dump(service), "-n", namespace)
    request = {
        "id": "v2-1",
        "inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.5]}],
        "parameters": {"entity": {"user_id": 42}},
    }

    def infer() -> httpx.Response:
        url = f"{endpoints.dataplane}/v2/models/churn/infer"
        return httpx.post(url, json=request, headers={"Host": f"churn.{namespace}.example.com"})

    wait_for(lambda: infer().status_code == 200, timeout=180, what="the revision to serve")
    table = wait_for(
        lambda: _logged(endpoints, namespace, LogKind.PREDICTIONS, 1),
        timeout=30,
        what="the data plane to log the v2 request",
    )
    row = table.to_pylist()[0]
    assert (row["request_id"], row["entity"], row["model_version"]) == (
        "v2-1",
        '{"user_id":42}',
        "4",
    )
    assert row["predictor"] == "churn-predictor-00001"
