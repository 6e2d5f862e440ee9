"""The Rollout's view of its candidate: anything it cannot read is refused, never a crash."""

from __future__ import annotations

from paved.controllers.rollout import _promotion_refused


def test_a_candidate_that_cannot_be_read_is_refused_with_why() -> None:
    unreadable = {"spec": {"model": 7}, "status": {"phase": "Staging"}}
    refused = _promotion_refused("churn-v2", unreadable, ())
    assert refused is not None
    assert refused.startswith("ModelVersion churn-v2 cannot be read:")


def test_a_missing_candidate_is_refused() -> None:
    assert _promotion_refused("churn-v2", None, ()) == "ModelVersion churn-v2 does not exist."
