"""A Rollout that cannot be carried out is refused before any traffic moves, with a reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paved.core.rollout_admission import Facts, refusal
from paved.core.rollout_steps import Traffic

READY = Facts("churn-v2", "Staging", "churn", "baseline", Traffic(100, 0))


def test_a_staged_candidate_on_a_healthy_deployment_may_start() -> None:
    assert refusal(READY) is None


@pytest.mark.parametrize(
    ("facts", "reason", "words"),
    [
        (replace(READY, candidate_phase="Held"), "CandidateNotStaged", "churn-v2 is Held"),
        (replace(READY, candidate_phase=None), "CandidateNotStaged", "not trained yet"),
        (replace(READY, traffic=None), "DeploymentNotFound", "churn does not exist"),
        (replace(READY, traffic=Traffic(0, 0)), "BaselineMissing", "'baseline'"),
        (replace(READY, competing=("churn-v1",)), "TargetTaken", "Rollout churn-v1 already"),
        (replace(READY, invalid_queries=("drift: bad_data: parse error",)), "QueryInvalid",
         "drift: bad_data"),
    ],
)  # fmt: skip
def test_what_cannot_be_carried_out_is_refused_with_its_reason(
    facts: Facts, reason: str, words: str
) -> None:
    refused = refusal(facts)
    assert refused is not None
    assert refused.reason == reason
    assert words in refused.message
