"""The registry life cycle of a model version: trained → staging → production → archived.

Pure: a transition table and the evidence each move needs. A refusal says what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from paved.api.model_version import Stage

NEXT_STAGES: Final[Mapping[Stage, frozenset[Stage]]] = {
    Stage.TRAINED: frozenset({Stage.STAGING, Stage.ARCHIVED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.ARCHIVED}),
    Stage.PRODUCTION: frozenset({Stage.ARCHIVED}),
    Stage.ARCHIVED: frozenset(),
}


@dataclass(frozen=True)
class Evidence:
    gates_passed: bool
    failed_gates: tuple[str, ...] = ()
    approval_required: bool = True
    approved_by: str | None = None
    rollout_succeeded: bool = False


@dataclass(frozen=True)
class Transition:
    to: Stage
    reason: str
    message: str


@dataclass(frozen=True)
class Refusal:
    reason: str
    message: str


def transition(current: Stage, requested: Stage, evidence: Evidence) -> Transition | Refusal:
    """May a version at `current` move to `requested` on this evidence?"""
    if requested == current:
        return Transition(requested, "Unchanged", f"Already {requested.value}.")
    if requested not in NEXT_STAGES[current]:
        allowed = ", ".join(sorted(s.value for s in NEXT_STAGES[current])) or "nothing"
        return Refusal(
            "TransitionNotAllowed",
            f"{current.value} → {requested.value} is not allowed; from {current.value}: {allowed}.",
        )
    if requested == Stage.STAGING and not evidence.gates_passed:
        failed = ", ".join(evidence.failed_gates) or "unknown"
        return Refusal("GatesFailed", f"Staging needs every gate to pass; failed: {failed}.")
    if requested == Stage.PRODUCTION:
        if evidence.approval_required and not evidence.approved_by:
            return Refusal("AwaitingApproval", "Production needs a sign-off by an approver.")
        if not evidence.rollout_succeeded:
            return Refusal("AwaitingRollout", "Production needs a Rollout that reached full.")
    return Transition(
        requested, f"MovedTo{requested.value}", f"{current.value} → {requested.value}."
    )
