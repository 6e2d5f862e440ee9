"""Log a training run to MLflow: parameters, metrics, gate verdicts, the model and its data.

Idempotent by run key: a finished run tagged with the same key is reused, never duplicated.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

import mlflow
import pyarrow as pa
import pyarrow.parquet as pq
from mlflow.tracking import MlflowClient
from sklearn.pipeline import Pipeline

from paved.api.tasks import Task
from paved_pipelines.request import TrainingRequest
from paved_pipelines.steps import LABEL, Evaluation

RUN_KEY_TAG = "paved.run_key"
# skops (MLflow's safe default format) refuses types it does not know; these are the
# scikit-learn internals the gradient-boosted trees pickle, and the dtype a one-hot encoder
# (the multiclass pipeline's) keeps.
SKOPS_TRUSTED_TYPES = [
    "functools.partial",
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
]
TRAINING_DATA_ARTIFACT = "training-data/features.parquet"


MAX_RUN_NAME = 250  # MLflow's SQL stores keep a run's name in 250 characters


def run_name(request: TrainingRequest) -> str:
    """`<namespace>.<ModelVersion>-<end of the run key>`, cut to what MLflow stores: whose run
    it is reads off the name, and the key's end tells the object's runs apart."""
    head = f"{request.namespace}.{request.model_version}"
    return f"{head[: MAX_RUN_NAME - 9]}-{request.run_key[-8:]}"


def find_run(client: MlflowClient, experiment_id: str, run_key: str) -> str | None:
    found = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{RUN_KEY_TAG}` = '{run_key}' and attributes.status = 'FINISHED'",
        max_results=1,
    )
    return found[0].info.run_id if found else None


OUTCOME_ARTIFACT = "outcome.json"


def lineage_tags(request: TrainingRequest, lineage: Mapping[str, Any]) -> dict[str, str]:
    """The MLflow run's tags: the data it trained on (from `prepare`) and whose run it is."""
    return {
        "paved.dataset_hash": lineage["datasetHash"],
        "paved.dataset_rows": str(lineage["rows"]),
        "paved.feature_views": json.dumps(lineage["featureViews"], sort_keys=True),
        "paved.code_commit": request.code_commit,
        "paved.namespace": request.namespace,
        "paved.model_version": request.model_version,
    }


def outcome_document(evaluation: Evaluation, lineage: Mapping[str, Any]) -> dict[str, object]:
    """What the operator reads back (`TrainingOutcome`, less the run id added once logged)."""
    return {
        "passed": evaluation.passed,
        "metrics": evaluation.metrics,
        "sliceMetrics": evaluation.slice_metrics,
        "verdicts": [asdict(v) for v in evaluation.verdicts],
        "reference": evaluation.reference,
        "lineage": dict(lineage),
    }


def log_sklearn(model: Pipeline, task: Task) -> Callable[[], None]:
    """The built-in pipeline's model, logged in the active run."""

    def log() -> None:
        # A model server (MLServer's MLflow runtime) calls the pyfunc flavour: a classifier's
        # score is its classes' probabilities, not the label `predict` gives; a regressor's is
        # its value.
        mlflow.sklearn.log_model(
            model,
            name="model",
            skops_trusted_types=SKOPS_TRUSTED_TYPES,
            pyfunc_predict_fn="predict" if task is Task.REGRESSION else "predict_proba",
        )

    return log


def _mlflow_names(metrics: Mapping[str, float]) -> dict[str, float]:
    """`metrics` named as MLflow accepts them: it refuses `@`, so a ranker's `ndcg@10` is logged
    as `ndcg_at_10` (the outcome document keeps paved's names; the gates read those)."""
    return {name.replace("@", "_at_"): value for name, value in metrics.items()}


def log_training_run(
    request: TrainingRequest,
    train_rows: pa.Table,
    evaluation: Evaluation,
    lineage: dict[str, str],
    outcome: dict[str, object],
    *,
    log_model: Callable[[], None],
) -> str:
    """The MLflow run id holding this training; the same run for the same run key.

    `outcome` (gates, metrics, lineage) is logged as `outcome.json` with the run id in it: the
    operator reads it from MLflow, whichever runner ran the pipeline (KFP's API does not return
    a pipeline's output parameters). `log_model` logs the model in the active run.
    """
    client = MlflowClient()
    experiment = client.get_experiment_by_name(request.model)
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment(request.model)
    )
    existing = find_run(client, experiment_id, request.run_key)
    if existing is not None:
        return existing
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=run_name(request),
        tags={RUN_KEY_TAG: request.run_key, **lineage},
    ) as run:
        mlflow.log_params({"seed": request.seed, **request.parameters})
        mlflow.log_metrics(_mlflow_names(evaluation.metrics))
        sliced = {f"slice.{k}": v for k, v in evaluation.slice_metrics.items()}
        mlflow.log_metrics(_mlflow_names(sliced))
        mlflow.log_dict(
            {"passed": evaluation.passed, "verdicts": [asdict(v) for v in evaluation.verdicts]},
            "gates.json",
        )
        with tempfile.TemporaryDirectory() as scratch:
            features = Path(scratch) / "features.parquet"
            pq.write_table(train_rows.drop_columns([LABEL]), features)
            mlflow.log_artifact(str(features), "training-data")
        log_model()
        mlflow.set_tag("paved.gates", json.dumps({"passed": evaluation.passed}))
        mlflow.log_dict({**outcome, "mlflowRunId": run.info.run_id}, OUTCOME_ARTIFACT)
        return str(run.info.run_id)
