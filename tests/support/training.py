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


def training_request(
    data_root: Path, run_key: str, production: ProductionReference | None = None
) -> TrainingRequest:
    """A request in namespace `NAMESPACE`: its data is read from `data_root / NAMESPACE`."""
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"
    model = example("02-modelversion.yaml")["spec"]
    model["labels"]["path"] = "churn_labels.parquet"
    model["gates"]["metric"]["minValue"] = 0.6
    return TrainingRequest.model_validate(
        {
            "run_key": run_key,
            "model": "churn",
            "namespace": NAMESPACE,
            "model_version": "churn-v1",
            "feature_views": {view["metadata"]["name"]: view["spec"]},
            "features": model["features"],
            "labels": model["labels"],
            "data_root": str(data_root),
            "parameters": model["pipeline"]["parameters"],
            "seed": model["pipeline"]["seed"],
            "gates": model["gates"],
            "production": production,
            "min_slice_support": 20,
        }
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
