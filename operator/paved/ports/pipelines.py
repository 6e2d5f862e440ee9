"""Pipeline runners: start a training run once per key, and report its state."""

from __future__ import annotations

from typing import Protocol

from paved.core.model_versions import TERMINAL, PipelineRun, RunState

__all__ = ["TERMINAL", "PipelineRun", "PipelineRunner", "RunState"]


class PipelineRunner(Protocol):
    async def start(self, run_key: str, pipeline: str, request: str) -> PipelineRun:
        """Start `pipeline` with `request`, unless a run for `run_key` exists: then return it."""
        ...

    async def get(self, run_id: str) -> PipelineRun:
        """The run's current state and the tasks it has finished; raises TransientError when
        the runner cannot be reached."""
        ...
