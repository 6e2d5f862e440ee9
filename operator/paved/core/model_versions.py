"""What a ModelVersion's controller learns about its run and its registry entry, and how its
conditions follow from them.

Pure: the runner and the registry report these facts; `paved.core.model_version_steps` decides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from paved.api.model_version import ModelVersionPhase, ModelVersionSpec, Stage
from paved.core.conditions import Observation
from paved.core.gates import GateVerdict, blocking
from paved.core.reasons import ModelVersionReason

TRAINED: Final = "Trained"
GATES_PASSED: Final = "GatesPassed"
APPROVED: Final = "Approved"
# The tag a version's sign-off is recorded under, in every registry.
APPROVED_BY_TAG: Final = "paved.approved_by"
# Between a namespace and a name in registry names and run keys. MLflow refuses "/" and ":" in
# registered model names (and "/" splits a `models:/` URI); a namespace, a DNS label, holds no
# ".", so the first one always ends it.
NAMESPACE_SEPARATOR: Final = "."


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
    """A pipeline runner's report on one run."""

    id: str
    state: RunState
    output: str | None = None  # the pipeline's output parameter, once it succeeded
    error: str | None = None
    finished_tasks: frozenset[str] = frozenset()  # the tasks that have completed successfully


@dataclass(frozen=True)
class RegisteredVersion:
    """A registry's record of one model version."""

    model: str
    version: str
    run_id: str
    uri: str
    stage: Stage
    tags: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, float] = field(default_factory=dict)  # of the run that trained it


def registered_model_name(namespace: str, model: str) -> str:
    """The registry's name for a namespace's model: two teams' `churn` are two models."""
    return f"{namespace}{NAMESPACE_SEPARATOR}{model}"


def run_key(uid: str, spec: ModelVersionSpec, *, namespace: str) -> str:
    """One training run and one registered version per object and training input.

    Everything in the spec but the approval goes in: a sign-off bumps the generation but changes
    nothing the run depends on, so it must not train again. The uid alone is unique; the
    namespace in front names whose run it is wherever the key shows (a KFP run's name, the
    registry's tags).
    """
    training = spec.model_dump(by_alias=True, mode="json", exclude={"approval"})
    digest = hashlib.sha256(json.dumps(training, sort_keys=True).encode()).hexdigest()[:12]
    return f"{namespace}{NAMESPACE_SEPARATOR}{uid}-{digest}"


def phase_for_stage(stage: Stage) -> ModelVersionPhase:
    return {
        Stage.TRAINED: ModelVersionPhase.HELD,
        Stage.STAGING: ModelVersionPhase.STAGING,
        Stage.PRODUCTION: ModelVersionPhase.PRODUCTION,
        Stage.ARCHIVED: ModelVersionPhase.ARCHIVED,
    }[stage]


def gates_condition(verdicts: Sequence[GateVerdict]) -> Observation:
    failed = blocking(verdicts)
    if not failed:
        message = f"All {len(verdicts)} gates pass."
        return Observation(GATES_PASSED, "True", ModelVersionReason.GATES_PASSED, message)
    return Observation(
        GATES_PASSED, "False", failed[0].reason, "; ".join(v.message for v in failed)
    )
