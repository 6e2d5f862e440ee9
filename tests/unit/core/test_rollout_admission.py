"""A Rollout that cannot be carried out is refused before any traffic moves, with a reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paved.core.reasons import AdmissionReason
from paved.core.rollout_admission import Claim, Facts, competitors, refusal
from paved.core.rollout_steps import Traffic

READY = Facts("churn-v2", "Staging", "churn", "baseline", Traffic(100, 0))


def test_a_staged_candidate_on_a_healthy_deployment_may_start() -> None:
    assert refusal(READY) is None


@pytest.mark.parametrize(
    ("facts", "reason", "words"),
    [
        (
            replace(READY, candidate_phase="Held"),
            AdmissionReason.CANDIDATE_NOT_STAGED,
            "churn-v2 is Held",
        ),
        (
            replace(READY, candidate_phase=None),
            AdmissionReason.CANDIDATE_NOT_STAGED,
            "not trained yet",
        ),
        (
            replace(READY, traffic=None),
            AdmissionReason.DEPLOYMENT_NOT_FOUND,
            "churn does not exist",
        ),
        (replace(READY, traffic=Traffic(0, 0)), AdmissionReason.BASELINE_MISSING, "'baseline'"),
        (
            replace(READY, competing=("churn-v1",)),
            AdmissionReason.TARGET_TAKEN,
            "Rollout churn-v1 already",
        ),
        (
            replace(READY, invalid_queries=("drift: bad_data: parse error",)),
            AdmissionReason.QUERY_INVALID,
            "drift: bad_data",
        ),
    ],
)
def test_what_cannot_be_carried_out_is_refused_with_its_reason(
    facts: Facts, reason: str, words: str
) -> None:
    refused = refusal(facts)
    assert refused is not None
    assert refused.reason == reason
    assert words in refused.message


MINE = Claim("r-2", "2026-11-26T12:00:05Z", "churn", started=False, finished=False)


def test_the_first_claim_on_a_deployment_goes_ahead_and_later_ones_wait() -> None:
    older = Claim("r-1", "2026-11-26T12:00:00Z", "churn", started=False, finished=False)
    assert competitors(MINE, [older, MINE]) == ["r-1"]
    assert competitors(older, [older, MINE]) == []


def test_a_started_rollout_holds_its_deployment_whatever_its_age() -> None:
    younger = Claim("r-3", "2026-11-26T12:00:09Z", "churn", started=True, finished=False)
    assert competitors(MINE, [younger]) == ["r-3"]


def test_finished_rollouts_and_other_deployments_claim_nothing() -> None:
    done = Claim("r-0", "2026-11-26T11:00:00Z", "churn", started=True, finished=True)
    elsewhere = Claim("f-1", "2026-11-26T11:00:00Z", "fraud", started=True, finished=False)
    assert competitors(MINE, [done, elsewhere]) == []


def test_claims_made_in_the_same_second_are_ordered_by_name() -> None:
    twin = Claim("r-1", MINE.created, "churn", started=False, finished=False)
    assert competitors(MINE, [twin]) == ["r-1"]
    assert competitors(twin, [MINE]) == []
