"""Pipeline runners: start a training run once per key, and report its state."""

from __future__ import annotations

from typing import Protocol

from paved.core.model_versions import TERMINAL, PipelineRun, RunState
from paved.core.pipeline_contract import (
    BuiltInPipeline,
    CompiledIR,
    PackagePipeline,
    PipelineMissing,
    PipelineText,
    TrainingPipeline,
)
from paved.errors import TransientError

__all__ = [
    "TERMINAL",
    "BuiltInPipeline",
    "CompiledIR",
    "PackagePipeline",
    "PipelineMissing",
    "PipelineRun",
    "PipelineRunner",
    "PipelineSources",
    "PipelineText",
    "PipelinesUnavailableError",
    "RunState",
    "TrainingPipeline",
]


class PipelinesUnavailableError(TransientError):
    """The pipeline service cannot be reached, or answers that it cannot serve now; the message
    says which service and what failed."""


class PipelineRunner(Protocol):
    """Every method raises PipelinesUnavailableError when the pipeline service cannot be
    reached or fails on its side."""

    async def start(self, run_key: str, pipeline: TrainingPipeline, request: str) -> PipelineRun:
        """Start `pipeline` with `request`, unless a run for `run_key` exists: then return it.
        A team's pipeline runs between paved's point-in-time join and its gates (ADR 0037)."""
        ...

    async def get(self, run_id: str) -> PipelineRun:
        """The run's current state and the tasks it has finished."""
        ...


class PipelineSources(Protocol):
    async def compiled(
        self, namespace: str, config_map: str, key: str
    ) -> PipelineText | PipelineMissing:
        """The IR text in the ConfigMap's key, or why it cannot be read (read as data only)."""
        ...
