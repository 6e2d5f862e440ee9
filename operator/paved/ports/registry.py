"""The model registry: versions with lineage tags, and stages kept as aliases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from paved.api.model_version import Stage
from paved.core.model_versions import APPROVED_BY_TAG, RegisteredVersion
from paved.errors import TransientError

__all__ = ["APPROVED_BY_TAG", "ModelRegistry", "RegisteredVersion", "RegistryUnavailableError"]


class RegistryUnavailableError(TransientError):
    """The registry cannot be reached, or answers that it cannot serve now; the message says
    which registry, what failed and since when."""


class ModelRegistry(Protocol):
    """Every method raises RegistryUnavailableError when the registry cannot be reached."""

    async def register(
        self, model: str, run_id: str, key: str, tags: Mapping[str, str]
    ) -> RegisteredVersion:
        """The version registered for `key`; created only when no version carries that key."""
        ...

    async def set_stage(self, model: str, version: str, stage: Stage) -> None:
        """Move the version to `stage`; a new production version archives the previous one
        and names it in its `paved.replaced` tag (what a revert restores)."""
        ...

    async def version(self, model: str, version: str) -> RegisteredVersion | None:
        """The version with this number, with its tags, if it exists."""
        ...

    async def annotate(self, model: str, version: str, tags: Mapping[str, str]) -> None:
        """Write `tags` onto the version (the registry's memory: rollouts, reverts)."""
        ...

    async def in_stage(self, model: str, stage: Stage) -> RegisteredVersion | None:
        """The version holding `stage` (staging and production are held by one at a time)."""
        ...

    async def find(self, model: str, key: str) -> RegisteredVersion | None:
        """The version registered for `key`, if any."""
        ...

    async def record_sign_off(
        self, model: str, version: str, by: str, at: str, comment: str
    ) -> None:
        """Write who approved the version, when and why, onto the version itself."""
        ...

    async def training_outcome(self, model: str, run_key: str) -> str | None:
        """The outcome document (gates, metrics, lineage) the training run for `run_key`
        logged, or None when no finished run has one."""
        ...
