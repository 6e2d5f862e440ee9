"""The executor's translation to and from the V2 protocol MLServer speaks, and when it takes a
route: once every predictor's model server has a replica available."""

from __future__ import annotations

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from paved_local.dataplane.model_servers import (
    ModelServerFailedError,
    infer,
    scores_of,
    unavailable,
    v2_request,
)
from paved_local.dataplane.routing import route_of


def test_a_frame_goes_as_one_named_input_a_column_in_mlservers_pandas_content_type() -> None:
    frame = pd.DataFrame({"sessions": [3, 4], "spend": [1.5, 0.0], "country": ["FR", "DE"]})

    request = v2_request(frame)

    assert request["parameters"] == {"content_type": "pd"}
    assert [(i["name"], i["datatype"], i["shape"]) for i in request["inputs"]] == [
        ("sessions", "INT64", [2]),
        ("spend", "FP64", [2]),
        ("country", "BYTES", [2]),
    ]
    assert request["inputs"][2]["data"] == ["FR", "DE"]
    assert request["inputs"][2]["parameters"] == {"content_type": "str"}


def test_a_probability_matrix_scores_each_row_by_its_positive_class() -> None:
    answer = {"outputs": [{"name": "output-1", "shape": [2, 2], "data": [0.9, 0.1, 0.3, 0.7]}]}

    assert scores_of(answer, rows=2).rows() == [0.1, 0.7]


def test_a_multiclass_probability_matrix_is_each_rows_class_vector() -> None:
    answer = {"outputs": [{"shape": [2, 3], "data": [0.7, 0.2, 0.1, 0.1, 0.3, 0.6]}]}

    assert scores_of(answer, rows=2).rows() == [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]


def test_a_label_per_row_is_the_score() -> None:
    answer = {"outputs": [{"name": "output-1", "shape": [3], "data": [0, 1, 1]}]}

    assert scores_of(answer, rows=3).rows() == [0.0, 1.0, 1.0]


def test_an_answer_that_does_not_fit_the_rows_is_a_model_server_failure() -> None:
    with pytest.raises(ModelServerFailedError, match="3 values for 2 rows"):
        scores_of({"outputs": [{"shape": [3], "data": [0, 1, 1]}]}, rows=2)
    with pytest.raises(ModelServerFailedError, match="not a V2 inference response"):
        scores_of({"error": "boom"}, rows=1)


def test_a_route_waits_for_every_predictors_model_server() -> None:
    graph = {"name": "classifier", "implementation": "MLFLOW_SERVER", "modelUri": "s3://b/m"}
    route = route_of(
        {
            "metadata": {"name": "churn", "namespace": "team-a"},
            "spec": {
                "predictors": [
                    {"name": "baseline", "traffic": 80, "graph": graph},
                    {"name": "candidate", "traffic": 20, "graph": graph},
                ]
            },
        }
    )
    one = {"deploymentStatus": {"churn-baseline-0-classifier": {"availableReplicas": 1}}}
    both = {
        "deploymentStatus": {
            "churn-baseline-0-classifier": {"availableReplicas": 1},
            "churn-candidate-0-classifier": {"availableReplicas": 1},
        }
    }

    assert unavailable(route, {}) == ["baseline", "candidate"]
    assert unavailable(route, one) == ["candidate"]
    assert unavailable(route, both) == []


def test_a_missing_value_goes_as_null_so_the_request_is_json() -> None:
    frame = pd.DataFrame({"clicks": [1.5, np.nan], "tickets": [2, None], "plan": ["pro", None]})

    request = v2_request(frame)

    # Strict JSON: a NaN written as `NaN` makes MLServer refuse the whole request.
    json.dumps(request, allow_nan=False)
    by_name = {i["name"]: i for i in request["inputs"]}
    assert by_name["clicks"]["data"] == [1.5, None]
    assert by_name["tickets"]["data"] == [2.0, None]  # pandas made it a float column
    assert by_name["plan"]["data"] == ["pro", None]


def _mlserver_dropping_first(
    requests: list[httpx.Request], error: type[httpx.TransportError]
) -> httpx.AsyncClient:
    """A client whose model server drops the first connection with `error`, then answers."""

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if len(requests) == 1:
            raise error("Server disconnected without sending a response.", request=request)
        return httpx.Response(200, json={"outputs": [{"shape": [1], "data": [0.25]}]})

    return httpx.AsyncClient(transport=httpx.MockTransport(answer))


_ROUTE = route_of(
    {
        "metadata": {"name": "churn", "namespace": "team-a"},
        "spec": {
            "predictors": [
                {"name": "baseline", "graph": {"name": "classifier", "modelUri": "s3://b/m"}}
            ]
        },
    }
)


async def test_a_connection_the_model_server_dropped_is_tried_once_more() -> None:
    requests: list[httpx.Request] = []
    async with _mlserver_dropping_first(requests, httpx.RemoteProtocolError) as http:
        scores = await infer(http, _ROUTE, _ROUTE.live[0], frame=pd.DataFrame({"x": [1.0]}))

    assert scores.rows() == [0.25]
    assert len(requests) == 2
    assert requests[0].content == requests[1].content


async def test_a_model_server_that_times_out_is_not_asked_again() -> None:
    requests: list[httpx.Request] = []
    async with _mlserver_dropping_first(requests, httpx.ReadTimeout) as http:
        with pytest.raises(ModelServerFailedError, match="ReadTimeout"):
            await infer(http, _ROUTE, _ROUTE.live[0], frame=pd.DataFrame({"x": [1.0]}))

    assert len(requests) == 1
