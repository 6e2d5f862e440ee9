"""Pipeline runners: start a training run once per key, and report its state."""

from __future__ import annotations

from typing import Protocol

from paved.core.model_versions import TERMINAL, PipelineRun, RunState
from paved.errors import TransientError

__all__ = ["TERMINAL", "PipelineRun", "PipelineRunner", "PipelinesUnavailableError", "RunState"]


class PipelinesUnavailableError(TransientError):
    """The pipeline service cannot be reached, or answers that it cannot serve now; the message
    says which service and what failed."""


class PipelineRunner(Protocol):
    """Every method raises PipelinesUnavailableError when the pipeline service cannot be
    reached or fails on its side."""

    async def start(self, run_key: str, pipeline: str, request: str) -> PipelineRun:
        """Start `pipeline` with `request`, unless a run for `run_key` exists: then return it."""
        ...

    async def get(self, run_id: str) -> PipelineRun:
        """The run's current state and the tasks it has finished."""
        ...
