"""Build a TrainingRequest from the examples, over the synthetic churn data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from paved_pipelines.request import ProductionReference, TrainingRequest

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "test"  # the requests' namespace: their data is under <data_root>/test/


def example(name: str) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    return document


def request_from(
    view: dict[str, Any],
    model_version: dict[str, Any],
    *,
    data_root: Path,
    namespace: str,
    run_key: str,
    **fields: Any,
) -> TrainingRequest:
    """The request the operator would hand a run for these FeatureView and ModelVersion
    manifests; `fields` set the rest (production, min_slice_support, ...)."""
    spec = model_version["spec"]
    return TrainingRequest.model_validate(
        {
            "run_key": run_key,
            "model": spec["model"],
            "namespace": namespace,
            "model_version": model_version["metadata"]["name"],
            "feature_views": {view["metadata"]["name"]: view["spec"]},
            "features": spec["features"],
            "labels": spec["labels"],
            "data_root": str(data_root),
            "parameters": spec["pipeline"]["parameters"],
            "seed": spec["pipeline"]["seed"],
            "gates": spec["gates"],
            **fields,
        }
    )


def training_request(
    data_root: Path, run_key: str, production: ProductionReference | None = None
) -> TrainingRequest:
    """A request in namespace `NAMESPACE`: its data is read from `data_root / NAMESPACE`."""
    model = example("02-modelversion.yaml")
    model["spec"]["labels"]["path"] = "churn_labels.parquet"
    model["spec"]["gates"]["metric"]["minValue"] = 0.6
    return _in_namespace(data_root, model, run_key, production=production)


def _in_namespace(
    data_root: Path,
    model: dict[str, Any],
    run_key: str,
    view: dict[str, Any] | None = None,
    **fields: Any,
) -> TrainingRequest:
    """The request for `model` over `view` (the example's by default), its data under
    `data_root / NAMESPACE`."""
    if view is None:
        view = example("01-featureview.yaml")
        view["spec"]["source"]["path"] = "activity/*.parquet"
    return request_from(
        view,
        model,
        data_root=data_root,
        namespace=NAMESPACE,
        run_key=run_key,
        min_slice_support=20,
        **fields,
    )


# A gate verdict as the pipeline reports it: the metric gate, passed.
PASSING_VERDICT = {
    "gate": "metric:auc",
    "verdict": "pass",
    "reason": "MetricHolds",
    "message": "auc 0.81 >= 0.7",
    "value": 0.81,
    "threshold": 0.7,
}


# The label files `write_task_labels` writes, each task's label column and a metric gate.
TASK_LABELS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "regression": ("spend_labels.parquet", "spend", {"name": "rmse", "minValue": 30.0}),
    "multiclass": ("tier_labels.parquet", "tier", {"name": "macroF1", "minValue": 0.5}),
}


def task_model_version(task: str, name: str, labels_path: str | None = None) -> dict[str, Any]:
    """The example ModelVersion, made a `task` model over `write_task_labels`' labels: its
    metric gate the task's, its golden case the task's (a regressor's expected value range)."""
    model = example("02-modelversion.yaml")
    file, label, metric = TASK_LABELS[task]
    model["metadata"]["name"] = name
    spec = model["spec"]
    spec["model"] = {"regression": "spend", "multiclass": "tier"}[task]
    spec["task"] = task
    spec["labels"].update(path=labels_path or file, label=label)
    spec["gates"]["metric"] = metric
    active = spec["gates"]["golden"][0]["features"]
    spec["gates"]["golden"] = (
        [{"name": "active-user-spends", "features": active, "expectScoreMin": 150.0}]
        if task == "regression"
        else [{"name": "active-user-top-tier", "features": active, "expectLabel": 2}]
    )
    return model


def task_request(data_root: Path, task: str, run_key: str) -> TrainingRequest:
    """A `task` request in namespace `NAMESPACE`, over `write_task_labels`' labels."""
    model = task_model_version(task, "task")
    return _in_namespace(data_root, model, run_key, task=task)


def ranking_request(data_root: Path, run_key: str, *, min_ndcg: float) -> TrainingRequest:
    """The ranking example's request (examples/ranking-pipeline) over `write_ranking_data`'s
    files under `data_root / NAMESPACE`, its NDCG@10 gate's floor `min_ndcg`."""
    directory = "ranking-pipeline"
    view = example(f"{directory}/featureview.yaml")
    view["spec"]["source"]["path"] = "items/*.parquet"
    model = example(f"{directory}/modelversion.yaml")
    model["spec"]["labels"]["path"] = "search_labels.parquet"
    model["spec"]["gates"]["metric"]["minValue"] = min_ndcg
    return _in_namespace(
        data_root,
        model,
        run_key,
        view,
        task=model["spec"]["task"],
        pipeline="ConfigMap search-lambdarank key pipeline.yaml (sha256:…)",
    )
