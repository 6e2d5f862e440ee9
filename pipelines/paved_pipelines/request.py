"""What the operator hands a training run: one JSON document, validated on arrival."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paved.api.feature_view import FeatureViewSpec
from paved.api.model_version import FeatureSelection, Gates, Labels
from paved.api.tasks import Task


class ProductionReference(BaseModel):
    """The model serving the baseline now: the run scores it on the candidate's holdout."""

    model_config = ConfigDict(frozen=True)

    name: str  # its ModelVersion's name, e.g. churn-v1: the gates' messages name it
    version: str
    model_uri: str  # models:/<registered model>/<version>


class TrainingRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_key: str = Field(
        description="<namespace>.<ModelVersion uid>-<training input digest>: one run per key."
    )
    model: str = Field(description="The registered model name, <namespace>.<model>.")
    namespace: str
    model_version: str
    feature_views: dict[str, FeatureViewSpec]
    # Those of feature_views that are BatchPredictions' predictions (a hybrid), each with the
    # view version its served predictions are under online (what serving reads now).
    batch_predictions: dict[str, str] = Field(default_factory=dict)
    features: list[FeatureSelection] = Field(min_length=1)
    labels: Labels
    task: Task = Task.BINARY
    data_root: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    seed: int = 42
    validation_fraction: float = Field(default=0.25, gt=0, lt=1)
    min_slice_support: int = Field(default=50, ge=1)
    gates: Gates = Field(default_factory=Gates)
    production: ProductionReference | None = None
    online_url: str | None = None  # the online store: recent serving inputs, for drift
    code_commit: str = "unknown"
    pipeline: str = "tabular-classifier"  # which pipeline trains, as lineage names it
