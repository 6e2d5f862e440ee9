from __future__ import annotations

import pytest

from paved.api.model_version import Stage
from paved.core.model_lifecycle import NEXT_STAGES, Evidence, Refusal, Transition, transition
from paved.core.reasons import TransitionReason

PASSED = Evidence(gates_passed=True)
READY_FOR_PRODUCTION = Evidence(gates_passed=True, promotion_refused=None, rollout_succeeded=True)
SIGN_OFF_MISSING = "ModelVersion churn-v2: Production needs a sign-off by an approver."


@pytest.mark.parametrize(
    ("current", "requested", "evidence", "reason"),
    [
        (Stage.TRAINED, Stage.STAGING, PASSED, TransitionReason.MOVED_TO_STAGING),
        (
            Stage.STAGING,
            Stage.PRODUCTION,
            READY_FOR_PRODUCTION,
            TransitionReason.MOVED_TO_PRODUCTION,
        ),
        (Stage.PRODUCTION, Stage.ARCHIVED, PASSED, TransitionReason.MOVED_TO_ARCHIVED),
        (
            Stage.TRAINED,
            Stage.ARCHIVED,
            Evidence(gates_passed=False),
            TransitionReason.MOVED_TO_ARCHIVED,
        ),
    ],
    ids=["gates-passed", "approved-and-rolled-out", "superseded", "failed-then-retired"],
)
def test_allowed_moves(current: Stage, requested: Stage, evidence: Evidence, reason: str) -> None:
    assert transition(current, requested, evidence) == Transition(
        requested, reason, f"{current.value} → {requested.value}."
    )


@pytest.mark.parametrize(
    ("current", "requested", "evidence", "reason", "says"),
    [
        (
            Stage.TRAINED,
            Stage.STAGING,
            Evidence(False, ("slice:new_users",)),
            TransitionReason.GATES_FAILED,
            "failed: slice:new_users",
        ),
        (
            Stage.STAGING,
            Stage.PRODUCTION,
            Evidence(True, promotion_refused=SIGN_OFF_MISSING, rollout_succeeded=True),
            TransitionReason.PROMOTION_REFUSED,
            "sign-off",
        ),
        (
            Stage.STAGING,
            Stage.PRODUCTION,
            Evidence(True, promotion_refused=None),
            TransitionReason.AWAITING_ROLLOUT,
            "Rollout",
        ),
        (
            Stage.STAGING,
            Stage.PRODUCTION,
            Evidence(True, rollout_succeeded=True),
            TransitionReason.PROMOTION_REFUSED,
            "verdict",
        ),
        (
            Stage.TRAINED,
            Stage.PRODUCTION,
            READY_FOR_PRODUCTION,
            TransitionReason.TRANSITION_NOT_ALLOWED,
            "from Trained: Archived, Staging",
        ),
        (
            Stage.ARCHIVED,
            Stage.STAGING,
            PASSED,
            TransitionReason.TRANSITION_NOT_ALLOWED,
            "from Archived: nothing",
        ),
    ],
    ids=[
        "failing-gate",
        "no-sign-off",
        "no-rollout",
        "no-promotion-verdict-is-no-promotion",
        "skipping-staging",
        "archived-is-final",
    ],
)
def test_refused_moves_say_why(
    current: Stage, requested: Stage, evidence: Evidence, reason: str, says: str
) -> None:
    refusal = transition(current, requested, evidence)
    assert isinstance(refusal, Refusal)
    assert refusal.reason == reason
    assert says in refusal.message


def test_every_stage_has_an_entry_and_archived_is_terminal() -> None:
    assert set(NEXT_STAGES) == set(Stage)
    assert NEXT_STAGES[Stage.ARCHIVED] == frozenset()


def test_an_archived_version_goes_back_to_production_only_by_a_revert() -> None:
    promoted_again = transition(
        Stage.ARCHIVED,
        Stage.PRODUCTION,
        Evidence(True, promotion_refused=None, rollout_succeeded=True),
    )
    reverted = transition(Stage.ARCHIVED, Stage.PRODUCTION, Evidence(True, reverting=True))

    assert isinstance(promoted_again, Refusal)
    assert promoted_again.reason == TransitionReason.RESTORE_ONLY_BY_REVERT
    assert reverted == Transition(
        Stage.PRODUCTION, TransitionReason.RESTORED, "Archived → Production (revert)."
    )
