"""What a resource refers to, and whether it may be accepted given what exists.

Pure: the caller looks the references up and passes in the ones it could not find.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from paved.api.batch_prediction import BatchPredictionSpec
from paved.api.feature_view import FeatureViewSpec
from paved.api.model_version import ModelVersionSpec
from paved.api.rollout import RolloutSpec
from paved.core.conditions import Observation
from paved.core.reasons import AcceptanceReason

ACCEPTED: Final = "Accepted"


@dataclass(frozen=True, order=True)
class Reference:
    """Another paved resource in the same namespace: of `kind`, or of any of `or_kinds`."""

    kind: str
    name: str
    or_kinds: tuple[str, ...] = ()

    @property
    def kinds(self) -> tuple[str, ...]:
        return (self.kind, *self.or_kinds)

    def __str__(self) -> str:
        return f"{' or '.join(self.kinds)} {self.name}"


# What a model's features are read from: a FeatureView, or a BatchPrediction's predictions.
FEATURE_SOURCE_KINDS: Final = ("FeatureView", "BatchPrediction")


def references_of(
    spec: FeatureViewSpec | ModelVersionSpec | RolloutSpec | BatchPredictionSpec,
) -> list[Reference]:
    match spec:
        case FeatureViewSpec():
            return []
        case ModelVersionSpec():
            kind, *others = FEATURE_SOURCE_KINDS
            return sorted({Reference(kind, s.feature_view, tuple(others)) for s in spec.features})
        case RolloutSpec():
            names = [spec.candidate] + ([spec.baseline] if spec.baseline else [])
            return sorted({Reference("ModelVersion", name) for name in names})
        case BatchPredictionSpec():
            pinned = spec.model.model_version
            found = [Reference("FeatureView", spec.entities.feature_view)]
            return sorted(found + ([Reference("ModelVersion", pinned)] if pinned else []))


def acceptance(missing: Sequence[Reference], namespace: str) -> Observation:
    """Accepted when everything referred to exists; otherwise say exactly what is missing."""
    if not missing:
        return Observation(
            ACCEPTED,
            "True",
            AcceptanceReason.ACCEPTED,
            "The spec is valid and its references exist.",
        )
    listed = ", ".join(str(r) for r in sorted(missing))
    return Observation(
        ACCEPTED,
        "False",
        AcceptanceReason.REFERENCE_NOT_FOUND,
        f"Waiting for {listed} in namespace {namespace}: not found.",
    )


def invalid_spec(error: str) -> Observation:
    return Observation(ACCEPTED, "False", AcceptanceReason.INVALID_SPEC, error)
