"""`ModelRegistry` on MLflow: versions tagged with a key, stages as aliases plus a stage tag.

MLflow's `create_model_version` is not idempotent (a retry makes a duplicate), so every
registration searches by the key tag first, in the same attempt as the create: an attempt that
follows an outage searches again. MLflow's own client retries too, POSTs included, when a reply
is lost or a proxy times out: a create the server committed can be made twice inside one call.
Registration therefore keeps the key's first version and deletes any later one; only the first
is ever found, so no later one has a stage or an alias.

Stages are aliases (`staging`, `production`): moving one is atomic in MLflow, and the
`paved.stage` tag keeps the history readable.

A version's `uri` is where its files are (MLflow's download URI for it: `s3://…` when the
artifact root is a bucket), what a serving platform's storage initializer fetches; never
`models:/`, which only MLflow's own client resolves.

When MLflow is down, each call tries again with backoff for a few seconds (a restart or a blip
passes unnoticed), then raises RegistryUnavailableError saying since when; the delay it asks the
caller to wait doubles with each call in a row that found MLflow down.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Final, TypeVar

import httpx
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from paved.api.model_version import Stage
from paved.core.registry_memory import REPLACED_TAG
from paved.errors import PermanentError
from paved.ports.registry import APPROVED_BY_TAG, RegisteredVersion, RegistryUnavailableError

KEY_TAG: Final = "paved.key"
# Written by the training pipeline (paved_pipelines.registry) on its MLflow run.
RUN_KEY_TAG: Final = "paved.run_key"
OUTCOME_ARTIFACT: Final = "outcome.json"
STAGE_TAG: Final = "paved.stage"
_ALIASES: Final = {Stage.STAGING: "staging", Stage.PRODUCTION: "production"}
# Answers that say the request itself is wrong: asking again cannot help.
_REFUSALS: Final = frozenset({"RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"})
BACKOFF_SECONDS: Final = (0.5, 1.0, 2.0, 4.0)
FIRST_RETRY_SECONDS: Final = 5.0
MAX_RETRY_SECONDS: Final = 60.0
T = TypeVar("T")


def _registered(
    version: ModelVersion, uri: str, metrics: Mapping[str, float] | None = None
) -> RegisteredVersion:
    tags = dict(version.tags or {})
    return RegisteredVersion(
        model=version.name,
        version=str(version.version),  # an int from SQL stores, a string over REST
        run_id=version.run_id or "",
        uri=uri,
        stage=Stage(tags.get(STAGE_TAG, Stage.TRAINED.value)),
        tags=tags,
        metrics=dict(metrics or {}),
    )


class MlflowRegistry:
    def __init__(
        self,
        tracking_uri: str,
        backoff: Sequence[float] = BACKOFF_SECONDS,
        probe_timeout_seconds: float = 5.0,
    ) -> None:
        self._uri = tracking_uri.rstrip("/")
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        self._backoff = tuple(backoff)
        self._probe_timeout = probe_timeout_seconds
        self._down_since: dt.datetime | None = None
        self._calls_failed = 0  # in a row: how long the caller is asked to wait grows with it

    async def _call(self, what: str, work: Callable[[], T]) -> T:
        """`work`, once MLflow answers its health check; `what` names it in the error."""
        for attempts, delay in enumerate((*self._backoff, None), start=1):
            problem = await self._unreachable()
            if problem is None:
                break
            if delay is None:
                raise self._unavailable(what, f"{problem} ({attempts} attempts)")
            await asyncio.sleep(delay)
        try:
            result = await asyncio.to_thread(work)
        except MlflowException as error:
            if error.error_code in _REFUSALS:
                raise
            raise self._unavailable(what, f"it answered {error.message}") from error
        except OSError as error:
            raise self._unavailable(what, str(error)) from error
        self._down_since, self._calls_failed = None, 0
        return result

    async def _unreachable(self) -> str | None:
        """Why MLflow does not answer its health check, or None when it does. MLflow's client
        retries a refused connection for minutes (7 times, from 2 s doubling) inside one call;
        the probe fails at once, so an outage is reported in seconds and the backoff is ours."""
        try:
            async with httpx.AsyncClient(timeout=self._probe_timeout) as client:
                response = await client.get(f"{self._uri}/health")
        except httpx.HTTPError as error:
            return f"{type(error).__name__}: {error}"
        if response.status_code != httpx.codes.OK:
            return f"/health answered {response.status_code}"
        return None

    def _unavailable(self, what: str, problem: str) -> RegistryUnavailableError:
        now = dt.datetime.now(dt.UTC)
        self._down_since = self._down_since or now
        self._calls_failed += 1
        wait = min(MAX_RETRY_SECONDS, FIRST_RETRY_SECONDS * 2 ** (self._calls_failed - 1))
        return RegistryUnavailableError(
            f"MLflow at {self._uri} cannot be reached {what}: {problem}; unavailable since "
            f"{self._down_since:%Y-%m-%dT%H:%M:%SZ}, {self._calls_failed} call(s) in a row",
            retry_after_seconds=wait,
        )

    def _record(
        self, version: ModelVersion, metrics: Mapping[str, float] | None = None
    ) -> RegisteredVersion:
        """The version with the storage URI its files are at, as MLflow resolves it."""
        uri = self._client.get_model_version_download_uri(version.name, str(version.version))
        return _registered(version, uri, metrics)

    def _find(self, model: str, key: str) -> RegisteredVersion | None:
        found = self._with_key(model, key)
        return self._record(found[0]) if found else None

    def _with_key(self, model: str, key: str) -> list[ModelVersion]:
        """The versions tagged with `key`, first first."""
        found = self._client.search_model_versions(
            f"name = '{model}' and tags.`{KEY_TAG}` = '{key}'"
        )
        return sorted(found, key=lambda v: int(v.version))

    def _first_with_key(self, model: str, key: str) -> RegisteredVersion | None:
        """The key's first version, after deleting any later duplicate of it."""
        found = self._with_key(model, key)
        for duplicate in found[1:]:
            self._client.delete_model_version(model, str(duplicate.version))
        return self._record(found[0]) if found else None

    async def find(self, model: str, key: str) -> RegisteredVersion | None:
        return await self._call(
            f"to find the {model} version of key {key}", lambda: self._find(model, key)
        )

    async def register(
        self, model: str, run_id: str, key: str, tags: Mapping[str, str]
    ) -> RegisteredVersion:
        def find_or_create() -> RegisteredVersion:
            existing = self._first_with_key(model, key)
            if existing is not None:
                return existing
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
            created = self._client.create_model_version(
                model,
                f"models:/{logged[0]}",
                run_id=run_id,
                tags={**tags, KEY_TAG: key, STAGE_TAG: Stage.TRAINED.value},
                model_id=logged[0],
            )
            return self._first_with_key(model, key) or self._record(created)

        return await self._call(f"to register {model} for key {key}", find_or_create)

    async def set_stage(self, model: str, version: str, stage: Stage) -> None:
        def move() -> None:
            alias = _ALIASES.get(stage)
            if stage is Stage.PRODUCTION:
                previous = self._holder(model, "production")
                if previous is not None and str(previous.version) != version:
                    self._client.set_model_version_tag(
                        model, str(previous.version), STAGE_TAG, Stage.ARCHIVED.value
                    )
                    # Before the alias moves: a crash after it leaves no trace of the previous.
                    self._client.set_model_version_tag(
                        model, version, REPLACED_TAG, str(previous.version)
                    )
            for other_stage, other_alias in _ALIASES.items():
                holder = self._holder(model, other_alias)
                if other_stage != stage and holder and str(holder.version) == version:
                    self._client.delete_registered_model_alias(model, other_alias)
            if alias is not None:
                self._client.set_registered_model_alias(model, alias, version)
            self._client.set_model_version_tag(model, version, STAGE_TAG, stage.value)

        await self._call(f"to move {model} version {version} to {stage.value}", move)

    def _holder(self, model: str, alias: str) -> ModelVersion | None:
        try:
            return self._client.get_model_version_by_alias(model, alias)
        except MlflowException as error:
            if error.error_code in _REFUSALS:
                return None
            raise

    async def version(self, model: str, version: str) -> RegisteredVersion | None:
        def read() -> RegisteredVersion | None:
            try:
                return self._record(self._client.get_model_version(model, version))
            except MlflowException as error:
                if error.error_code in _REFUSALS:
                    return None
                raise

        return await self._call(f"to read {model} version {version}", read)

    async def annotate(self, model: str, version: str, tags: Mapping[str, str]) -> None:
        def tag() -> None:
            for key, value in tags.items():
                self._client.set_model_version_tag(model, version, key, value)

        await self._call(f"to tag {model} version {version}", tag)

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

        await self._call(f"to record the sign-off of {model} version {version}", tag)

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

        return await self._call(f"to read the outcome of run key {run_key}", read)

    async def in_stage(self, model: str, stage: Stage) -> RegisteredVersion | None:
        alias = _ALIASES.get(stage)
        if alias is None:
            return None

        def holder() -> RegisteredVersion | None:
            found = self._holder(model, alias)
            if found is None:
                return None
            metrics = self._client.get_run(found.run_id).data.metrics if found.run_id else {}
            return self._record(found, metrics)

        return await self._call(f"to read which {model} version is {stage.value}", holder)
