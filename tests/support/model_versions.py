"""One ModelVersion reconciled by its real handler, tick after tick as kopf would, with a
scripted pipeline runner and whatever registry the test gives."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

from paved.api.crds import FEATURE_VIEW
from paved.api.model_version import ModelVersionSpec, ModelVersionStatus
from paved.controllers import model_version
from paved.controllers._kopf import Reconciled, Resource, parsed
from paved.core.conditions import report
from paved.core.model_versions import PipelineRun, RunState
from paved.ports import Ports
from paved.ports.cluster import BatchPrediction, Found, ModelVersion, PromotionPolicy, Rollout
from paved.ports.pipelines import PipelinesUnavailableError, TrainingPipeline
from paved.ports.registry import ModelRegistry
from tests.support.training import PASSING_VERDICT, example

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
SPEC = ModelVersionSpec.model_validate(example("02-modelversion.yaml")["spec"])


def outcome(mlflow_run_id: str) -> str:
    """A passing outcome document, as the pipeline returns it."""
    return json.dumps(
        {
            "mlflowRunId": mlflow_run_id,
            "passed": True,
            "metrics": {"auc": 0.81},
            "sliceMetrics": {},
            "verdicts": [PASSING_VERDICT],
            "lineage": {"datasetHash": "d" * 64, "featureViews": {"user-activity-v1": "fv-7"}},
        }
    )


class Cluster:
    """The example FeatureView exists (under any name but a BatchPrediction's), and whatever
    policies, Rollouts, BatchPredictions and other ModelVersions a test adds."""

    def __init__(self) -> None:
        self.policies: list[PromotionPolicy] = []
        self.rollout_objects: list[Rollout] = []
        self.model_versions: dict[str, ModelVersion] = {}
        self.batch_predictions: dict[str, BatchPrediction] = {}

    async def exists(self, kind: str, _namespace: str, name: str) -> bool:
        if kind == "BatchPrediction":
            return name in self.batch_predictions
        return kind == "FeatureView" and name not in self.batch_predictions

    async def created(self, kind: str, namespace: str, name: str) -> str | None:
        if not await self.exists(kind, namespace, name):
            return None
        found = self.batch_predictions.get(name) if kind == "BatchPrediction" else None
        return found.created if found is not None else "2026-01-01T00:00:00Z"

    async def feature_view(self, _namespace: str, name: str) -> Found[Any, Any] | None:
        if name in self.batch_predictions:
            return None
        return parsed(FEATURE_VIEW, example("01-featureview.yaml"))

    async def batch_prediction(self, _namespace: str, name: str) -> BatchPrediction | None:
        return self.batch_predictions.get(name)

    async def promotion_policies(self) -> list[PromotionPolicy]:
        return self.policies

    async def rollouts(self, _namespace: str) -> list[Rollout]:
        return self.rollout_objects

    async def model_version(self, _namespace: str, name: str) -> ModelVersion | None:
        return self.model_versions.get(name)


class Runner:
    """Reports whatever `run` the test sets, or that it is `down`; records the keys it was asked
    to start, and their requests."""

    def __init__(self) -> None:
        self.starts: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.run = PipelineRun("run-1", RunState.RUNNING)
        self.down = False

    def _reachable(self) -> None:
        if self.down:
            raise PipelinesUnavailableError("KFP's API at http://kfp cannot be reached", 10)

    async def start(self, run_key: str, _pipeline: TrainingPipeline, request: str) -> PipelineRun:
        self._reachable()
        self.starts.append(run_key)
        self.requests.append(json.loads(request))
        return self.run

    async def get(self, _run_id: str) -> PipelineRun:
        self._reachable()
        return self.run


class World:
    def __init__(self, registry: ModelRegistry, spec: ModelVersionSpec = SPEC) -> None:
        self.runner = Runner()
        self.spec = spec
        self.status = ModelVersionStatus()
        self.cluster = Cluster()
        self.ports = Ports(
            cast(Any, self.cluster),
            cast(Any, None),
            cast(Any, None),
            self.runner,
            registry,
            cast(Any, None),
            cast(Any, None),
            "/data",
            "c0ffee",
        )

    async def tick(self) -> Reconciled:
        """One reconcile; its conditions and updates become the status, as `_kopf` writes it."""
        resource = Resource(
            "churn-v1",
            self.spec,
            self.status,
            kind="ModelVersion",
            namespace="ml",
            uid="uid-1",
            generation=1,
        )
        result = await model_version.train_and_promote(resource, self.ports, NOW)
        after = report(self.status, result.observed, generation=1, now=NOW)
        self.status = ModelVersionStatus.model_validate(after.model_dump() | result.status_updates)
        return result

    def condition(self, type_: str) -> tuple[str, str, str]:
        (found,) = (c for c in self.status.conditions if c.type == type_)
        return found.status, found.reason, found.message
