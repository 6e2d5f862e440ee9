"""What serves now, as the training run reads it: the reference model, loaded from the
registry, and the online store's current values of the training set's entities (the inputs the
served model reads, for the drift gate; ADR on serving inputs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import mlflow
import pyarrow as pa
from mlflow.exceptions import MlflowException

from paved.adapters.online.redis import RedisOnlineStore
from paved.core.gates import Value
from paved.errors import StoreUnavailableError
from paved.ports.online import OnlineRequest, ValueStatus
from paved_pipelines.request import TrainingRequest
from paved_pipelines.steps import Baseline, ServingInputs, resolve_views


def load_baseline(request: TrainingRequest) -> Baseline | None:
    """The model serving now (None: a first model); one that cannot be loaded says why, and its
    gates are then inconclusive rather than passed."""
    reference = request.production
    if reference is None:
        return None
    try:
        return Baseline(reference.name, mlflow.sklearn.load_model(reference.model_uri))
    except (MlflowException, OSError, ValueError) as error:
        return Baseline(reference.name, None, f"{reference.model_uri} cannot be loaded: {error}")


def serving_inputs(
    request: TrainingRequest, rows: pa.Table, features: Sequence[str]
) -> ServingInputs | None:
    """Each feature's current online value for every entity of `rows` (None: no online store)."""
    if request.online_url is None:
        return None
    keys = request.labels.entity_columns
    entities = rows.select(keys).group_by(keys).aggregate([]).to_pylist()
    views = resolve_views(request)
    wanted = set(features)
    requests = [
        OnlineRequest(views[s.feature_view], tuple(n for n in s.names if n in wanted))
        for s in request.features
    ]
    try:
        read = RedisOnlineStore.from_url(request.online_url).read(
            entities, [r for r in requests if r.features], dt.datetime.now(dt.UTC)
        )
    except StoreUnavailableError as error:
        return ServingInputs({}, len(entities), f"the online store cannot be read: {error}")
    return ServingInputs(_present(read.columns, read.values, read.statuses), len(entities))


def _present(
    columns: Sequence[str],
    values: Sequence[Sequence[Value]],
    statuses: Sequence[Sequence[ValueStatus]],
) -> Mapping[str, list[Value]]:
    """Per feature, the values the store serves as present (not expired, stale or missing)."""
    served: dict[str, list[Value]] = {}
    for j, column in enumerate(columns):
        feature = column.split("__", 1)[1]
        served[feature] = [
            row[j]
            for row, status in zip(values, statuses, strict=True)
            if status[j] is ValueStatus.PRESENT
        ]
    return served
