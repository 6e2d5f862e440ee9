"""`ModelRegistry` on MLflow: versions tagged with a key, stages as aliases plus a stage tag.

MLflow's `create_model_version` is not idempotent (a retry makes a duplicate), so every
registration searches by the key tag first. Stages are aliases (`staging`, `production`):
moving one is atomic in MLflow, and the `paved.stage` tag keeps the history readable.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Final, TypeVar

from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from paved.api.model_version import Stage
from paved.errors import PermanentError, TransientError
from paved.ports.registry import APPROVED_BY_TAG, RegisteredVersion

KEY_TAG: Final = "paved.key"
# Written by the training pipeline (paved_pipelines.registry) on its MLflow run.
RUN_KEY_TAG: Final = "paved.run_key"
OUTCOME_ARTIFACT: Final = "outcome.json"
STAGE_TAG: Final = "paved.stage"
_ALIASES: Final = {Stage.STAGING: "staging", Stage.PRODUCTION: "production"}
T = TypeVar("T")


def _registered(
    version: ModelVersion, metrics: Mapping[str, float] | None = None
) -> RegisteredVersion:
    tags = dict(version.tags or {})
    return RegisteredVersion(
        model=version.name,
        version=str(version.version),  # an int from SQL stores, a string over REST
        run_id=version.run_id or "",
        uri=f"models:/{version.name}/{version.version}",
        stage=Stage(tags.get(STAGE_TAG, Stage.TRAINED.value)),
        tags=tags,
        metrics=dict(metrics or {}),
    )


class MlflowRegistry:
    def __init__(self, tracking_uri: str) -> None:
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    async def _call(self, work: Callable[[], T]) -> T:
        try:
            return await asyncio.to_thread(work)
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                raise
            raise TransientError(f"MLflow: {error.message}", retry_after_seconds=15) from error
        except OSError as error:  # connection refused, timeouts
            raise TransientError(f"MLflow unreachable: {error}", retry_after_seconds=15) from error

    async def find(self, model: str, key: str) -> RegisteredVersion | None:
        def search() -> RegisteredVersion | None:
            found = self._client.search_model_versions(
                f"name = '{model}' and tags.`{KEY_TAG}` = '{key}'"
            )
            return _registered(min(found, key=lambda v: int(v.version))) if found else None

        return await self._call(search)

    async def register(
        self, model: str, run_id: str, key: str, tags: Mapping[str, str]
    ) -> RegisteredVersion:
        existing = await self.find(model, key)
        if existing is not None:
            return existing

        def create() -> RegisteredVersion:
            try:
                self._client.create_registered_model(model)
            except MlflowException as error:
                if error.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            # MLflow 3 keeps a logged model apart from its run's artifacts: a version whose
            # source is `runs:/<run>/model` registers, but its files cannot be downloaded.
            outputs = self._client.get_run(run_id).outputs
            logged = [o.model_id for o in (outputs.model_outputs if outputs else [])]
            if not logged:
                raise PermanentError(f"MLflow run {run_id} logged no model to register")
            version = self._client.create_model_version(
                model,
                f"models:/{logged[0]}",
                run_id=run_id,
                tags={**tags, KEY_TAG: key, STAGE_TAG: Stage.TRAINED.value},
                model_id=logged[0],
            )
            return _registered(version)

        return await self._call(create)

    async def set_stage(self, model: str, version: str, stage: Stage) -> None:
        def move() -> None:
            alias = _ALIASES.get(stage)
            if stage is Stage.PRODUCTION:
                previous = self._holder(model, "production")
                if previous is not None and str(previous.version) != version:
                    self._client.set_model_version_tag(
                        model, str(previous.version), STAGE_TAG, Stage.ARCHIVED.value
                    )
            for other_stage, other_alias in _ALIASES.items():
                holder = self._holder(model, other_alias)
                if other_stage != stage and holder and str(holder.version) == version:
                    self._client.delete_registered_model_alias(model, other_alias)
            if alias is not None:
                self._client.set_registered_model_alias(model, alias, version)
            self._client.set_model_version_tag(model, version, STAGE_TAG, stage.value)

        await self._call(move)

    def _holder(self, model: str, alias: str) -> ModelVersion | None:
        try:
            return self._client.get_model_version_by_alias(model, alias)
        except MlflowException as error:
            if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
                return None
            raise

    async def record_sign_off(
        self, model: str, version: str, by: str, at: str, comment: str
    ) -> None:
        def tag() -> None:
            for key, value in (
                (APPROVED_BY_TAG, by),
                ("paved.approved_at", at),
                ("paved.approval_comment", comment),
            ):
                self._client.set_model_version_tag(model, version, key, value)

        await self._call(tag)

    async def training_outcome(self, model: str, run_key: str) -> str | None:
        def read() -> str | None:
            experiment = self._client.get_experiment_by_name(model)
            if experiment is None:
                return None
            runs = self._client.search_runs(
                [experiment.experiment_id],
                filter_string=(
                    f"tags.`{RUN_KEY_TAG}` = '{run_key}' and attributes.status = 'FINISHED'"
                ),
                max_results=1,
            )
            if not runs:
                return None
            path = self._client.download_artifacts(runs[0].info.run_id, OUTCOME_ARTIFACT)
            return Path(path).read_text()

        return await self._call(read)

    async def in_stage(self, model: str, stage: Stage) -> RegisteredVersion | None:
        alias = _ALIASES.get(stage)
        if alias is None:
            return None

        def holder() -> RegisteredVersion | None:
            found = self._holder(model, alias)
            if found is None:
                return None
            metrics = self._client.get_run(found.run_id).data.metrics if found.run_id else {}
            return _registered(found, metrics)

        return await self._call(holder)
