"""The Kubernetes API as controllers need it beyond their own resource: other paved objects,
parsed into the API's models."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Generic, Protocol

from paved.api.batch_prediction import BatchPredictionSpec, BatchPredictionStatus
from paved.api.crds import SpecT, StatusT
from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus
from paved.api.model_version import ModelVersionSpec, ModelVersionStatus
from paved.api.promotion_policy import PromotionPolicySpec, PromotionPolicyStatus
from paved.api.rollout import RolloutSpec, RolloutStatus


@dataclass(frozen=True)
class Found(Generic[SpecT, StatusT]):
    """Another paved object, as its kind's models read it."""

    name: str
    spec: SpecT
    status: StatusT
    annotations: Mapping[str, str] = field(default_factory=dict)
    created: str = ""  # metadata.creationTimestamp: RFC 3339, so it orders as text


@dataclass(frozen=True)
class Unreadable(Generic[StatusT]):
    """An object this operator's models refuse (another version wrote it): what is wrong, and
    its status when that much can be read."""

    name: str
    problem: str
    status: StatusT | None = None


FeatureView = Found[FeatureViewSpec, FeatureViewStatus]
ModelVersion = Found[ModelVersionSpec, ModelVersionStatus]
Rollout = Found[RolloutSpec, RolloutStatus]
PromotionPolicy = Found[PromotionPolicySpec, PromotionPolicyStatus]
BatchPrediction = Found[BatchPredictionSpec, BatchPredictionStatus]


class Cluster(Protocol):
    async def exists(self, kind: str, namespace: str, name: str) -> bool:
        """Whether the paved object `kind`/`name` exists in `namespace`."""
        ...

    async def created(self, kind: str, namespace: str, name: str) -> str | None:
        """When the paved object `kind`/`name` in `namespace` was created (its
        metadata.creationTimestamp), or None when it does not exist."""
        ...

    async def feature_view(
        self, namespace: str, name: str
    ) -> FeatureView | Unreadable[FeatureViewStatus] | None:
        """The FeatureView `name` in `namespace`, or None when it does not exist."""
        ...

    async def model_version(
        self, namespace: str, name: str
    ) -> ModelVersion | Unreadable[ModelVersionStatus] | None:
        """The ModelVersion `name` in `namespace`, or None when it does not exist."""
        ...

    async def batch_prediction(
        self, namespace: str, name: str
    ) -> BatchPrediction | Unreadable[BatchPredictionStatus] | None:
        """The BatchPrediction `name` in `namespace`, or None when it does not exist."""
        ...

    async def rollouts(self, namespace: str) -> list[Rollout | Unreadable[RolloutStatus]]:
        """Every Rollout in `namespace`."""
        ...

    async def promotion_policies(
        self,
    ) -> list[PromotionPolicy | Unreadable[PromotionPolicyStatus]]:
        """Every PromotionPolicy in the cluster (cluster-scoped)."""
        ...
