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
from typing import Any, Final

from paved.api.model_version import ModelVersionPhase, ModelVersionSpec, Stage
from paved.api.tasks import Task
from paved.core.conditions import Observation
from paved.core.gates import GateVerdict, blocking, inconclusive
from paved.core.reasons import ModelVersionReason

TRAINED: Final = "Trained"
GATES_PASSED: Final = "GatesPassed"
APPROVED: Final = "Approved"
# The tag a version's sign-off is recorded under, in every registry.
APPROVED_BY_TAG: Final = "paved.approved_by"
# The registry tag naming the ModelVersion that trained a version: "<namespace>/<name>".
MODEL_VERSION_TAG: Final = "paved.model_version"
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


@dataclass(frozen=True)
class ServingModel:
    """The model serving the baseline now: what a candidate's gates are judged against."""

    name: str  # its ModelVersion's name (e.g. churn-v1), else "<registered model> v<version>"
    version: str
    uri: str  # what the training run loads to score it on the candidate's holdout


@dataclass(frozen=True)
class RolloutBaseline:
    """A Rollout's `baseline` ModelVersion of the same model, as the cluster holds it."""

    rollout_created: str  # RFC 3339, so it orders as text
    model_version: str
    version: str | None  # its registry version; None until it was registered
    uri: str | None


def serving_reference(
    production: RegisteredVersion | None, baselines: Sequence[RolloutBaseline]
) -> ServingModel | None:
    """The registry's production version; when the first model was deployed without one, the
    baseline the newest Rollout of this model names; None when nothing serves (a first model)."""
    if production is not None:
        # The tag holds "<namespace>/<ModelVersion>": people know the model by that name.
        _, _, name = production.tags.get("paved.model_version", "").rpartition("/")
        label = name or f"{production.model} v{production.version}"
        return ServingModel(label, production.version, production.uri)
    registered = [
        (b.rollout_created, ServingModel(b.model_version, b.version, b.uri))
        for b in sorted(baselines, key=lambda b: b.rollout_created)
        if b.version is not None and b.uri
    ]
    return registered[-1][1] if registered else None


def registered_model_name(namespace: str, model: str) -> str:
    """The registry's name for a namespace's model: two teams' `churn` are two models."""
    return f"{namespace}{NAMESPACE_SEPARATOR}{model}"


def model_of(registered: str, namespace: str) -> str:
    """The ModelVersions' `spec.model` a namespace's registered model name stands for."""
    return registered.removeprefix(f"{namespace}{NAMESPACE_SEPARATOR}")


def _as_before_tasks(training: dict[str, Any]) -> dict[str, Any]:
    """The spec as its digest was taken before task types (issue #20): the fields they added,
    left at the defaults that mean what a spec without them meant, are left out, so an upgrade
    does not retrain every existing ModelVersion."""
    if training.get("task") == Task.BINARY.value:
        del training["task"]
    if training["labels"].get("queryColumn") is None:
        training["labels"].pop("queryColumn", None)
    gates = training["gates"]
    for gate in [gates["metric"], *gates["slices"]]:
        if gate.get("maxRelativeRegression") is None:
            gate.pop("maxRelativeRegression", None)
    if gates["metric"].get("k") is None:
        gates["metric"].pop("k", None)
    return training


def run_key(uid: str, spec: ModelVersionSpec, *, namespace: str) -> str:
    """One training run and one registered version per object and training input.

    Everything in the spec but the approval goes in: a sign-off bumps the generation but changes
    nothing the run depends on, so it must not train again. The uid alone is unique; the
    namespace in front names whose run it is wherever the key shows (a KFP run's name, the
    registry's tags).
    """
    training = _as_before_tasks(spec.model_dump(by_alias=True, mode="json", exclude={"approval"}))
    # A pipeline by reference (ADR 0037) came later too: a built-in's key stays what it was.
    for absent in ("compiled", "package"):
        if training["pipeline"].get(absent) is None:
            training["pipeline"].pop(absent, None)
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
    """Agrees with the gates summary: "All N gates pass" only when every one passed; a gate
    that could not judge is named as inconclusive, not counted as a pass."""
    failed, unjudged = blocking(verdicts), inconclusive(verdicts)
    named = "; ".join(f"inconclusive: {v.message}" for v in unjudged)
    if failed:
        message = "; ".join(v.message for v in failed) + (f"; {named}" if named else "")
        return Observation(GATES_PASSED, "False", failed[0].reason, message)
    if unjudged:
        passed = len(verdicts) - len(unjudged)
        message = f"{passed}/{len(verdicts)} gates pass, none fails; {named}."
    else:
        message = f"All {len(verdicts)} gates pass."
    return Observation(GATES_PASSED, "True", ModelVersionReason.GATES_PASSED, message)
