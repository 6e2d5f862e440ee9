from __future__ import annotations

import pytest

from paved.api.model_version import Stage
from paved.core.model_lifecycle import NEXT_STAGES, Evidence, Refusal, Transition, transition

PASSED = Evidence(gates_passed=True)
READY_FOR_PRODUCTION = Evidence(gates_passed=True, promotion_refused=None, rollout_succeeded=True)
SIGN_OFF_MISSING = "ModelVersion churn-v2: Production needs a sign-off by an approver."


@pytest.mark.parametrize(
    ("current", "requested", "evidence", "reason"),
    [
        (Stage.TRAINED, Stage.STAGING, PASSED, "MovedToStaging"),
        (Stage.STAGING, Stage.PRODUCTION, READY_FOR_PRODUCTION, "MovedToProduction"),
        (Stage.PRODUCTION, Stage.ARCHIVED, PASSED, "MovedToArchived"),
        (Stage.TRAINED, Stage.ARCHIVED, Evidence(gates_passed=False), "MovedToArchived"),
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
            "GatesFailed",
            "failed: slice:new_users",
        ),
        (
            Stage.STAGING,
            Stage.PRODUCTION,
            Evidence(True, promotion_refused=SIGN_OFF_MISSING, rollout_succeeded=True),
            "PromotionRefused",
            "sign-off",
        ),
        (
            Stage.STAGING,
            Stage.PRODUCTION,
            Evidence(True, promotion_refused=None),
            "AwaitingRollout",
            "Rollout",
        ),
        (
            Stage.STAGING,
            Stage.PRODUCTION,
            Evidence(True, rollout_succeeded=True),
            "PromotionRefused",
            "verdict",
        ),
        (
            Stage.TRAINED,
            Stage.PRODUCTION,
            READY_FOR_PRODUCTION,
            "TransitionNotAllowed",
            "from Trained: Archived, Staging",
        ),
        (Stage.ARCHIVED, Stage.STAGING, PASSED, "TransitionNotAllowed", "from Archived: nothing"),
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
