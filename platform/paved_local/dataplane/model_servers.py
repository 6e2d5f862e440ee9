"""The executor's side of the model servers: on a cluster the data plane loads no model, it
forwards each request to the chosen predictor's MLServer (the Pod the Seldon stand-in created)
over the V2 inference protocol, as Seldon's executor does for a `protocol: v2` predictor.

A request's rows go as MLServer's pandas content type (one input a column), so a model that
selects its columns by name (a ColumnTransformer) sees the frame it was trained on. A model
whose pyfunc returns probabilities is scored by them (`scores`: the positive class's of two
columns, all of a multiclass model's); one that returns a value per row is scored by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx
import numpy as np
import pandas as pd

from paved_local.dataplane.routing import Predictor, Route
from paved_local.dataplane.scores import Scores
from paved_local.seldon.manifests import deployment_name

# Go's default transport, which Seldon's executor uses, gives up on a connection after 30 s.
CONNECT_TIMEOUT_SECONDS: Final = 30.0
# A dropped or refused connection, with no answer read: inference has no side effect, so the
# request goes once more (a keep-alive connection the model server closed as it was reused is
# the usual case: uvicorn closes idle ones after 5 s). A timeout is not retried: the model
# server may still be working on it.
_RETRIED: Final = (httpx.RemoteProtocolError, httpx.ConnectError, httpx.ReadError, httpx.WriteError)
# A model-ready probe: a model server that takes longer than this is not ready to serve.
READY_TIMEOUT_SECONDS: Final = 2.0
_DATATYPES: Final = {"f": "FP64", "i": "INT64", "u": "INT64", "b": "BOOL"}


class ModelServerFailedError(Exception):
    """The model server answered with an error, or not at all; the message says which."""


def v2_request(frame: pd.DataFrame) -> dict[str, Any]:
    """`frame` as a V2 inference request MLServer decodes back into the same DataFrame."""
    inputs = []
    for column in frame.columns:
        values = frame[column]
        datatype = _DATATYPES.get(values.dtype.kind, "BYTES")
        # A missing value goes as JSON's null: NaN is not JSON, and MLServer refuses the whole
        # request for one NaN (httpx would write it as a bare `NaN`).
        present = values.notna()
        if datatype == "BYTES":
            values = values.astype(str).where(present, None)
        data = values.astype(object).where(present, None).tolist()
        entry = {"name": str(column), "shape": [len(frame)], "datatype": datatype, "data": data}
        if datatype == "BYTES":
            entry["parameters"] = {"content_type": "str"}  # decoded to str, not bytes
        inputs.append(entry)
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


def scores_of(answer: Mapping[str, Any], rows: int) -> Scores:
    """The scores in a V2 response: one value a row, or a probability matrix [rows, k] (the
    positive class's column of two; all k of a multiclass model's)."""
    try:
        output = answer["outputs"][0]
        values = np.asarray(output["data"], dtype=float)
        shape = [int(n) for n in output.get("shape") or [values.size]]
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ModelServerFailedError(f"not a V2 inference response: {error!r}") from error
    if len(shape) == 2 and shape[0] == rows and values.size == rows * shape[1] > 0:
        return Scores.of_model(values.reshape(rows, shape[1]))
    if values.size != rows:
        raise ModelServerFailedError(f"{values.size} values for {rows} rows (shape {shape})")
    return Scores(values)


async def infer(
    http: httpx.AsyncClient, route: Route, predictor: Predictor, *, frame: pd.DataFrame
) -> Scores:
    """`predictor`'s model server's scores for `frame`."""
    url = predictor.endpoint
    timeout = httpx.Timeout(route.rest_timeout, connect=CONNECT_TIMEOUT_SECONDS)
    body = v2_request(frame)
    try:
        try:
            response = await http.post(url, json=body, timeout=timeout)
        except _RETRIED:
            response = await http.post(url, json=body, timeout=timeout)
    except httpx.HTTPError as error:
        raise ModelServerFailedError(f"{url}: {error!r}") from error
    if response.status_code != 200:
        raise ModelServerFailedError(
            f"{url} answered {response.status_code}: {response.text[:300]}"
        )
    return scores_of(response.json(), len(frame))


def ready_url(endpoint: str) -> str:
    """The V2 model-ready URL beside an inference endpoint (`…/v2/models/<m>/infer`)."""
    return endpoint.removesuffix("/infer") + "/ready"


async def answers_ready(http: httpx.AsyncClient, predictor: Predictor) -> bool:
    """Whether `predictor`'s model server says its model is loaded (V2 `GET …/ready`, 200)."""
    try:
        response = await http.get(
            ready_url(predictor.endpoint or ""), timeout=READY_TIMEOUT_SECONDS
        )
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def unavailable(route: Route, status: Mapping[str, Any]) -> list[str]:
    """The predictors of `route` whose model server has no available replica yet, by the
    SeldonDeployment's `deploymentStatus` (what the Seldon stand-in observed)."""
    deployments = status.get("deploymentStatus") or {}
    missing = []
    for predictor in route.predictors:
        name = deployment_name(route.deployment, predictor.name, predictor.unit)
        if int((deployments.get(name) or {}).get("availableReplicas") or 0) < 1:
            missing.append(predictor.name)
    return missing
