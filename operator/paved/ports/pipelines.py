"""Pipeline runners: start a training run once per key, and report its state."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final, Protocol


class RunState(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELED = "Canceled"
    SKIPPED = "Skipped"


# Every one of these ends the wait (KFP's own client forgets CANCELED and spins forever).
TERMINAL: Final = frozenset(
    {RunState.SUCCEEDED, RunState.FAILED, RunState.CANCELED, RunState.SKIPPED}
)


@dataclass(frozen=True)
class PipelineRun:
    id: str
    state: RunState
    output: str | None = None  # the pipeline's output parameter, once it succeeded
    error: str | None = None


class PipelineRunner(Protocol):
    async def start(self, run_key: str, pipeline: str, request: str) -> PipelineRun:
        """Start `pipeline` with `request`, unless a run for `run_key` exists: then return it."""
        ...

    async def get(self, run_id: str) -> PipelineRun:
        """The run's current state; raises TransientError when the runner cannot be reached."""
        ...
