"""The Rollout's view of its candidate: anything it cannot read is refused, never a crash."""

from __future__ import annotations

from paved.api.crds import MODEL_VERSION
from paved.controllers._kopf import parsed
from paved.controllers.rollout import _promotion_refused


def test_a_candidate_that_cannot_be_read_is_refused_with_why() -> None:
    unreadable = {"metadata": {"name": "churn-v2"}, "spec": {"model": 7}}
    refused = _promotion_refused("churn-v2", parsed(MODEL_VERSION, unreadable), ())
    assert refused is not None
    assert refused.startswith("ModelVersion churn-v2 cannot be read:")


def test_a_missing_candidate_is_refused() -> None:
    assert _promotion_refused("churn-v2", None, ()) == "ModelVersion churn-v2 does not exist."
