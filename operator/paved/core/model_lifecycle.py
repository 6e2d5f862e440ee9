"""The registry life cycle of a model version: trained → staging → production → archived.

Archived is terminal but for one move: a revert (`core/reverts.py`) puts the version that was
production before the current one back, archived → production, and nothing else may.

Pure: a transition table and the evidence each move needs. A refusal says what is missing.
Whether a version may become production is one rule, `promotion_policy.promotion_refusal` (its
phase, the PromotionPolicies, the sign-off): the evidence carries its answer, never a second
opinion on the sign-off.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from paved.api.model_version import Stage
from paved.core.reasons import TransitionReason
from paved.core.refusals import Refusal

NEXT_STAGES: Final[Mapping[Stage, frozenset[Stage]]] = {
    Stage.TRAINED: frozenset({Stage.STAGING, Stage.ARCHIVED}),
    Stage.STAGING: frozenset({Stage.PRODUCTION, Stage.ARCHIVED}),
    Stage.PRODUCTION: frozenset({Stage.ARCHIVED}),
    Stage.ARCHIVED: frozenset(),
}
NOT_JUDGED: Final = "Production needs the promotion rule's verdict, and none was given."
_MOVED: Final = {
    Stage.STAGING: TransitionReason.MOVED_TO_STAGING,
    Stage.PRODUCTION: TransitionReason.MOVED_TO_PRODUCTION,
    Stage.ARCHIVED: TransitionReason.MOVED_TO_ARCHIVED,
}


@dataclass(frozen=True)
class Evidence:
    gates_passed: bool
    failed_gates: tuple[str, ...] = ()
    # Why the version may not become production (`promotion_refusal`'s answer); None: it may.
    promotion_refused: str | None = NOT_JUDGED
    rollout_succeeded: bool = False
    # A revert restores this version: it was production until the current one replaced it.
    reverting: bool = False


@dataclass(frozen=True)
class Transition:
    to: Stage
    reason: TransitionReason
    message: str


__all__ = ["NEXT_STAGES", "Evidence", "Refusal", "Transition", "transition"]


def transition(current: Stage, requested: Stage, evidence: Evidence) -> Transition | Refusal:
    """May a version at `current` move to `requested` on this evidence?"""
    if requested == current:
        return Transition(requested, TransitionReason.UNCHANGED, f"Already {requested.value}.")
    if current is Stage.ARCHIVED and requested is Stage.PRODUCTION:
        return _restore(evidence)
    if requested not in NEXT_STAGES[current]:
        allowed = ", ".join(sorted(s.value for s in NEXT_STAGES[current])) or "nothing"
        return Refusal(
            TransitionReason.TRANSITION_NOT_ALLOWED,
            f"{current.value} → {requested.value} is not allowed; from {current.value}: {allowed}.",
        )
    if requested == Stage.STAGING and not evidence.gates_passed:
        failed = ", ".join(evidence.failed_gates) or "unknown"
        message = f"Staging needs every gate to pass; failed: {failed}."
        return Refusal(TransitionReason.GATES_FAILED, message)
    if requested == Stage.PRODUCTION:
        if evidence.promotion_refused is not None:
            return Refusal(TransitionReason.PROMOTION_REFUSED, evidence.promotion_refused)
        if not evidence.rollout_succeeded:
            message = "Production needs a Rollout that reached full."
            return Refusal(TransitionReason.AWAITING_ROLLOUT, message)
    return Transition(requested, _MOVED[requested], f"{current.value} → {requested.value}.")


def _restore(evidence: Evidence) -> Transition | Refusal:
    """Archived → production: a revert only, never a promotion (it skips the gates and the
    rollout because it was production, judged and rolled out, until the current one)."""
    if not evidence.reverting:
        return Refusal(
            TransitionReason.RESTORE_ONLY_BY_REVERT,
            "An archived version goes back to production only by `paved model revert`, "
            "and only the one production had before the current version.",
        )
    return Transition(
        Stage.PRODUCTION, TransitionReason.RESTORED, "Archived → Production (revert)."
    )
