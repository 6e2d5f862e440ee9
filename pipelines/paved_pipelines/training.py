"""The tabular-classifier training pipeline (KFP v2): prepare → train → evaluate and log.

(No `from __future__ import annotations` here: KFP reads the annotations at decoration time.)

Components are thin: each imports its step from `paved_pipelines`, which the operator image
carries, so the same code runs under KFP's local runner and on a KFP installation.

On a KFP installation each task is a Pod, and the pipeline says what it gets (kfp-kubernetes,
in the compiled IR's platform spec), each only where it is read: `prepare`, the one task that
reads sources and labels, the PersistentVolumeClaim `TRAINING_DATA` at `TASK_DATA_ROOT`, the
operator's data root (settings refuse any other with kfp-api); `evaluate_and_log`, the one that
talks to MLflow, its tracking URI from the ConfigMap `TRAINING_CONFIG` and the object store's
credentials from the Secret `TRAINING_CREDENTIALS`. KFP's local runner ignores the platform
spec: `paved.adapters.pipelines.kfp_docker` gives its task containers the same.
"""

from typing import Final

from kfp import dsl, kubernetes
from kfp.dsl import Dataset, Input, Model, Output, PipelineTask

from paved.settings import TASK_DATA_ROOT

PIPELINE_NAME: Final = "tabular-classifier"
# The operator image carries paved and paved_pipelines; its tag names its Python.
IMAGE: Final = "ghcr.io/paved-dev/paved:0.1.0-python3.11"
# In the namespace the runs' Pods run in (KFP's profile namespace); docs/architecture.md.
TRAINING_CONFIG: Final = "paved-training"  # MLFLOW_TRACKING_URI; optional MLFLOW_S3_ENDPOINT_URL
TRAINING_CREDENTIALS: Final = "paved-training-credentials"  # AWS_ACCESS_KEY_ID, …_SECRET_…
TRAINING_DATA: Final = "paved-training-data"  # the data root's volume; bind it ReadOnlyMany


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prepare(request: str, training_set: Output[Dataset]) -> str:
    """Join labels with features point-in-time; return the lineage of the data as JSON."""
    import json

    import pyarrow.parquet as pq

    from paved_pipelines.request import TrainingRequest
    from paved_pipelines.steps import build_training_set, data_lineage

    parsed = TrainingRequest.model_validate_json(request)
    table = build_training_set(parsed)
    pq.write_table(table, training_set.path)
    training_set.metadata["rows"] = table.num_rows
    return json.dumps(data_lineage(parsed, table))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(
    request: str,
    training_set: Input[Dataset],
    model: Output[Model],
    train_rows: Output[Dataset],
    valid_rows: Output[Dataset],
) -> None:
    """Split by time and fit the seeded model."""
    import joblib
    import pyarrow.parquet as pq

    from paved_pipelines.request import TrainingRequest
    from paved_pipelines.steps import feature_definitions, split_by_time
    from paved_pipelines.steps import train as fit

    parsed = TrainingRequest.model_validate_json(request)
    table = pq.read_table(training_set.path)
    earlier, later = split_by_time(
        table, parsed.labels.timestamp_column, parsed.validation_fraction
    )
    fitted = fit(earlier, feature_definitions(parsed), parsed.parameters, parsed.seed, parsed.task)
    joblib.dump(fitted, model.path)
    pq.write_table(earlier, train_rows.path)
    pq.write_table(later, valid_rows.path)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate_and_log(
    request: str,
    lineage: str,
    model: Input[Model],
    train_rows: Input[Dataset],
    valid_rows: Input[Dataset],
) -> str:
    """Run the gates and log everything to MLflow; return the outcome as JSON."""
    import json

    import joblib
    import pyarrow.parquet as pq

    from paved_pipelines.registry import (
        lineage_tags,
        log_sklearn,
        log_training_run,
        outcome_document,
    )
    from paved_pipelines.request import TrainingRequest
    from paved_pipelines.serving import load_baseline, serving_inputs
    from paved_pipelines.steps import evaluate, feature_definitions

    parsed = TrainingRequest.model_validate_json(request)
    fitted = joblib.load(model.path)
    earlier, later = pq.read_table(train_rows.path), pq.read_table(valid_rows.path)
    features = feature_definitions(parsed)
    # The model serving now, scored on this holdout; drift against what the online store serves.
    baseline = load_baseline(parsed)
    serving = serving_inputs(parsed, earlier, list(features)) if baseline else None
    outcome = evaluate(fitted, earlier, later, features, parsed, baseline=baseline, serving=serving)
    data = json.loads(lineage)
    document = outcome_document(outcome, data)
    tags = lineage_tags(parsed, data)
    run_id = log_training_run(
        parsed, earlier, outcome, tags, document, log_model=log_sklearn(fitted, parsed.task)
    )
    return json.dumps({**document, "mlflowRunId": run_id})


def reaches_mlflow(task: PipelineTask) -> PipelineTask:
    """MLflow's tracking URI (required: a run that cannot log must not start), its S3 endpoint
    and the object store's credentials (optional: an MLflow that proxies artifacts needs
    neither, and a store that does need them fails the task loudly when it logs)."""
    kubernetes.use_config_map_as_env(
        task, TRAINING_CONFIG, {"MLFLOW_TRACKING_URI": "MLFLOW_TRACKING_URI"}
    )
    kubernetes.use_config_map_as_env(
        task, TRAINING_CONFIG, {"MLFLOW_S3_ENDPOINT_URL": "MLFLOW_S3_ENDPOINT_URL"}, optional=True
    )
    keys = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")
    kubernetes.use_secret_as_env(
        task, TRAINING_CREDENTIALS, {key: key for key in keys}, optional=True
    )
    return task


@dsl.pipeline(name=PIPELINE_NAME, description="Point-in-time training set, seeded model, gates.")
def tabular_classifier(request: str) -> str:
    prepared = prepare(request=request)
    kubernetes.mount_pvc(prepared, pvc_name=TRAINING_DATA, mount_path=TASK_DATA_ROOT)
    trained = train(request=request, training_set=prepared.outputs["training_set"])
    evaluated = evaluate_and_log(
        request=request,
        lineage=prepared.outputs["Output"],
        model=trained.outputs["model"],
        train_rows=trained.outputs["train_rows"],
        valid_rows=trained.outputs["valid_rows"],
    )
    reaches_mlflow(evaluated)
    return evaluated.output
