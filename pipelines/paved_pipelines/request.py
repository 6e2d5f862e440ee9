"""What the operator hands a training run: one JSON document, validated on arrival."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from paved.api.feature_view import FeatureViewSpec
from paved.api.model_version import FeatureSelection, Gates, Labels


class ProductionReference(BaseModel):
    """The production version the candidate is compared with."""

    model_config = ConfigDict(frozen=True)

    version: str
    metrics: dict[str, float] = Field(default_factory=dict)
    slice_metrics: dict[str, float] = Field(default_factory=dict)
    training_data_uri: str | None = None  # Parquet of its training features, for drift


class TrainingRequest(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_key: str = Field(
        description="<namespace>.<ModelVersion uid>-<training input digest>: one run per key."
    )
    model: str = Field(description="The registered model name, <namespace>.<model>.")
    namespace: str
    model_version: str
    feature_views: dict[str, FeatureViewSpec]
    features: list[FeatureSelection] = Field(min_length=1)
    labels: Labels
    data_root: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    seed: int = 42
    validation_fraction: float = Field(default=0.25, gt=0, lt=1)
    min_slice_support: int = Field(default=50, ge=1)
    gates: Gates = Field(default_factory=Gates)
    production: ProductionReference | None = None
    code_commit: str = "unknown"
