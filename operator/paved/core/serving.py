"""What a serving backend can do, and whether a Rollout's steps ask more of it.

Pure. Each traffic router declares its capabilities (`paved.ports.traffic`); a step the target
cannot carry out (a `shadow` on a backend without mirroring) is refused before any traffic
moves, naming the step and the backend, rather than discovered halfway through the rollout.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from paved.api.rollout import AbTestStep, Backend, Step


class Arm(StrEnum):
    """A side of the split, as the guardrails and the A/B test read it."""

    BASELINE = "baseline"
    CANDIDATE = "candidate"
    SHADOW = "shadow"  # the candidate's model answering mirrored copies of the requests


# Beside a served model's storage URI, on its predictor or InferenceService: the registry version
# it is. Read back by lineage and reverts; never parsed out of the URI (ADR: storage URIs).
MODEL_ANNOTATION: Final = "paved.dev/model"
MODEL_VERSION_ANNOTATION: Final = "paved.dev/model-version"
# On a SeldonDeployment's spec while an interleave step runs: the candidate's predictor, whose
# ranking paved's data plane merges with the other live predictor's (ADR 0036).
INTERLEAVE_ANNOTATION: Final = "paved.dev/interleave"


@dataclass(frozen=True)
class ServedModel:
    """A model as a serving object holds it: the storage URI its storage initializer fetches,
    and the registry version it is (None when not known: a candidate deleted mid-rollout)."""

    uri: str
    registered_model: str | None = None
    version: str | None = None

    def annotations(self) -> dict[str, str]:
        if self.registered_model is None or self.version is None:
            return {}
        return {MODEL_ANNOTATION: self.registered_model, MODEL_VERSION_ANNOTATION: self.version}


def served_version(annotations: dict[str, str] | None) -> tuple[str, str] | None:
    """The registry's (model, version) a serving object's annotations name, if they do."""
    found = annotations or {}
    model, version = found.get(MODEL_ANNOTATION), found.get(MODEL_VERSION_ANNOTATION)
    return (model, version) if model and version else None


class Capability(StrEnum):
    SHADOW = "shadow"  # mirrors live requests to the candidate and drops its answers
    CANARY = "canary"  # splits live traffic between the arms by weight
    HEADER_ROUTING = "headerRouting"  # sends requests with a header to the candidate
    PER_ARM_FEEDBACK = "perArmFeedback"  # counts rewards per arm (Seldon's /feedback)
    # Ranks a request's candidates by both arms, merges them by team draft, attributes clicks:
    # paved's data plane does, as the executor in front of the predictors (ADR 0036).
    INTERLEAVE = "interleave"


_FEEDBACK_DEFAULTS = (
    AbTestStep.model_fields["metric"].default,
    AbTestStep.model_fields["trials"].default,
)


def needs(step: Step) -> frozenset[Capability]:
    """What the backend must do for `step`. An A/B test on the default counters (the backend's
    own feedback) needs per-arm feedback; on counters a person names, a weighted split."""
    if step.shadow is not None:
        return frozenset({Capability.SHADOW})
    if step.canary is not None:
        return frozenset({Capability.CANARY})
    if step.ab_test is not None:
        counters = (step.ab_test.metric, step.ab_test.trials)
        feedback = {Capability.PER_ARM_FEEDBACK} if counters == _FEEDBACK_DEFAULTS else set()
        return frozenset({Capability.CANARY, *feedback})
    if step.interleave is not None:
        return frozenset({Capability.CANARY, Capability.INTERLEAVE})
    return frozenset()  # a pause holds the split; full serves the candidate alone


def unsupported_steps(
    steps: Sequence[Step], backend: Backend, capabilities: frozenset[Capability]
) -> str | None:
    """Why the first step `backend` cannot carry out cannot be, naming it; None when every step
    can be."""
    for index, step in enumerate(steps):
        missing = needs(step) - capabilities
        if missing:
            kind = next(iter(step.model_dump(by_alias=True, exclude_none=True)))
            lacks = ", ".join(sorted(missing))
            hint = (
                " Name counters labelled per arm in its metric and trials."
                if Capability.PER_ARM_FEEDBACK in missing and len(missing) == 1
                else " Remove the step or choose another target."
            )
            return (
                f"Step {index + 1}/{len(steps)} ({kind}) needs {lacks}, which {backend} does not "
                f"offer: no traffic moves.{hint}"
            )
    return None
