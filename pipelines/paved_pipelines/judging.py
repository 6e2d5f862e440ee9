"""paved's steps around a team's pipeline, as plain functions (`team.py` wraps them): the
contract's inputs from the request, then the gates on what the team's pipeline produced and the
run logged to MLflow, as the built-in pipeline logs its own (ADR 0037)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.entities import LoggedModelOutput, LoggedModelStatus
from mlflow.tracking import MlflowClient
from sklearn.base import BaseEstimator, ClassifierMixin

from paved.api.tasks import Task
from paved.core.feature_views import FeatureDefinition
from paved.core.pipeline_contract import SCORE_COLUMN
from paved_pipelines.registry import lineage_tags, log_training_run, outcome_document
from paved_pipelines.request import TrainingRequest
from paved_pipelines.serving import load_baseline, serving_inputs
from paved_pipelines.steps import LABEL, evaluate, feature_definitions, query_of, scores

# How far the evaluation's scores may be from what the model artifact predicts: float32 models.
SCORE_TOLERANCE = 1e-5


class Inputs(NamedTuple):
    """The contract's parameters (`pipeline_contract.INPUTS` less the training set)."""

    entity_columns: list[str]
    timestamp_column: str
    label_column: str
    query_column: str  # a ranking task's; empty for any other
    feature_columns: list[str]
    parameters: dict[str, Any]
    seed: int
    validation_fraction: float


class ContractOutputError(ValueError):
    """What the team's pipeline produced breaks the contract; the message says how."""


def contract_inputs(request: str) -> Inputs:
    parsed = TrainingRequest.model_validate_json(request)
    labels = parsed.labels
    return Inputs(
        entity_columns=list(labels.entity_columns),
        timestamp_column=labels.timestamp_column,
        label_column=LABEL,  # `prepare` names the label so: no feature can be called that
        query_column=labels.query_column or "",
        feature_columns=list(feature_definitions(parsed)),
        parameters=dict(parsed.parameters),
        seed=parsed.seed,
        validation_fraction=parsed.validation_fraction,
    )


class Served(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """The team's model as the model server calls it (MLflow's pyfunc), shaped as the
    built-in's so the gates score it alike: a binary classifier's `predict_proba`, or a
    regressor's and ranker's `predict`, the pyfunc's number for each row."""

    def __init__(self, model: Any = None, task: Task = Task.BINARY) -> None:
        self.model = model
        self.task = task
        self.classes_ = np.array([0, 1])

    def fit(self, *_: Any) -> Served:
        return self  # trained by the team's pipeline; the gates never fit

    def predict_proba(self, frame: Any) -> Any:
        predicted = np.asarray(self.model.predict(frame), dtype=float)
        positive = predicted if predicted.ndim == 1 else predicted[:, -1]
        return np.column_stack([1 - positive, positive])

    def predict(self, frame: Any) -> Any:
        if self.task in (Task.REGRESSION, Task.RANKING):
            return np.asarray(self.model.predict(frame), dtype=float)
        return (self.predict_proba(frame)[:, 1] >= 0.5).astype(int)


def judge_and_log(
    request: str,
    lineage: str,
    *,
    training_set: str,
    model: str,
    metrics: Mapping[str, Any],
    evaluation: str,
) -> str:
    """The gates on the team's model and evaluation rows, the run logged to MLflow with the
    model directory; the outcome document the operator reads, as JSON."""
    parsed = TrainingRequest.model_validate_json(request)
    features = feature_definitions(parsed)
    rows, held_out = pq.read_table(training_set), pq.read_table(evaluation)
    _check_columns(held_out, parsed, features)
    candidate = Served(mlflow.pyfunc.load_model(model), parsed.task)
    _check_scores(candidate, held_out, features)
    trained_on = _not_held_out(rows, held_out, parsed)
    baseline = load_baseline(parsed)
    serving = serving_inputs(parsed, trained_on, list(features)) if baseline else None
    outcome = evaluate(
        candidate, trained_on, held_out, features, parsed, baseline=baseline, serving=serving
    )
    data = json.loads(lineage)
    document = outcome_document(outcome, data)
    tags = lineage_tags(parsed, data) | {"paved.pipeline": parsed.pipeline}
    logged = _log_directory(model, _numbers(metrics))
    run_id = log_training_run(parsed, trained_on, outcome, tags, document, log_model=logged)
    return json.dumps({**document, "mlflowRunId": run_id})


def _check_columns(
    held_out: pa.Table, request: TrainingRequest, features: Mapping[str, FeatureDefinition]
) -> None:
    labels = request.labels
    wanted = [*labels.entity_columns, labels.timestamp_column, LABEL, *labels.cohort_columns]
    wanted += [*query_of(labels), *features, SCORE_COLUMN]
    missing = [name for name in wanted if name not in held_out.column_names]
    if missing:
        raise ContractOutputError(
            f"the evaluation Dataset lacks column(s) {', '.join(missing)}: it must keep the"
            f" training set's columns of its held-out rows and add {SCORE_COLUMN}"
        )
    if held_out.num_rows == 0:
        raise ContractOutputError("the evaluation Dataset has no rows")


def _not_held_out(rows: pa.Table, held_out: pa.Table, request: TrainingRequest) -> pa.Table:
    """The training set's rows the team did not hold out (by entity and time): what the schema
    and drift gates profile and MLflow keeps as the training data, as for the built-in."""
    labels = request.labels
    # A ranker's item is one row per query: the query is part of what names a row.
    keys = [*labels.entity_columns, labels.timestamp_column, *query_of(labels)]
    # As the training set types them: pandas writes a string key back as large_string.
    held_keys = held_out.select(keys).cast(rows.select(keys).schema)
    return rows.join(held_keys, keys=keys, join_type="left anti")


def _check_scores(
    candidate: Served, held_out: pa.Table, features: Mapping[str, FeatureDefinition]
) -> None:
    """The evaluation's scores are the model artifact's: what the gates judge is what serves."""
    given = held_out.column(SCORE_COLUMN).to_numpy(zero_copy_only=False).astype(float)
    predicted = scores(candidate, held_out, features)
    differ = int((~np.isclose(given, predicted, atol=SCORE_TOLERANCE)).sum())
    if differ:
        raise ContractOutputError(
            f"the evaluation's {SCORE_COLUMN} differs from what the model artifact predicts on"
            f" {differ} of {held_out.num_rows} rows: the model must be the one that scored them"
        )


def _numbers(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The team's own metrics that are numbers, as `pipeline.<name>`."""
    return {
        f"pipeline.{name}": float(value)
        for name, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def _log_directory(directory: str, metrics: Mapping[str, float]) -> Callable[[], None]:
    """Log the team's MLflow model directory as the run's model, as `log_model` would: a
    LoggedModel of the active run, its files uploaded as they are (nothing re-serialised)."""

    def log() -> None:
        mlflow.log_metrics(dict(metrics))
        run = mlflow.active_run()
        assert run is not None  # log_training_run calls this inside its run
        client = MlflowClient()
        logged = mlflow.initialize_logged_model(name="model", source_run_id=run.info.run_id)
        client.log_model_artifacts(logged.model_id, directory)
        client.log_outputs(run.info.run_id, [LoggedModelOutput(logged.model_id, step=0)])
        mlflow.finalize_logged_model(logged.model_id, LoggedModelStatus.READY)

    return log
