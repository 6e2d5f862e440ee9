"""A Rollout that cannot be carried out is refused before any traffic moves, with a reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from paved.api.rollout import Backend, Step
from paved.core.rollout_admission import Claim, Facts, competitors, refusal
from paved.core.rollout_steps import Traffic
from paved.core.serving import Capability

CANARY = Step.model_validate({"canary": {"weight": 10, "duration": "1m"}})
SHADOW = Step.model_validate({"shadow": {"duration": "1m"}})
AB_ON_FEEDBACK = Step.model_validate({"abTest": {"minimumDetectableEffect": 0.05}})
INTERLEAVE = Step.model_validate({"interleave": {"minimumDetectablePreference": 0.05}})
AB_ON_COUNTERS = Step.model_validate(
    {"abTest": {"minimumDetectableEffect": 0.05, "metric": "won_total", "trials": "offers_total"}}
)
READY = Facts(
    "churn-v2",
    "Staging",
    "SeldonDeployment churn",
    Backend.SELDON_DEPLOYMENT,
    frozenset(Capability),
    [SHADOW, CANARY, AB_ON_FEEDBACK],
    Traffic(100, 0),
)
KSERVE = replace(
    READY,
    target="InferenceService churn",
    backend=Backend.INFERENCE_SERVICE,
    capabilities=frozenset({Capability.CANARY}),
    steps=[CANARY, AB_ON_COUNTERS],
)


def test_a_staged_candidate_on_a_healthy_deployment_may_start() -> None:
    assert refusal(READY) is None
    assert refusal(KSERVE) is None
    assert refusal(replace(READY, steps=[CANARY, INTERLEAVE])) is None


@pytest.mark.parametrize(
    ("steps", "words"),
    [
        ([CANARY, SHADOW], "Step 2/2 (shadow) needs shadow, which InferenceService does not offer"),
        (
            [CANARY, AB_ON_FEEDBACK],
            "Step 2/2 (abTest) needs perArmFeedback, which "
            "InferenceService does not offer: no traffic moves. Name counters labelled per arm",
        ),
        (
            [CANARY, INTERLEAVE],
            "Step 2/2 (interleave) needs interleave, which InferenceService does not offer: no "
            "traffic moves. Remove the step or choose another target.",
        ),
    ],
)
def test_a_step_the_backend_cannot_do_is_refused_first_naming_the_step_and_the_backend(
    steps: list[Step], words: str
) -> None:
    # Refused before anything else is looked at: not even a missing candidate hides it.
    refused = refusal(replace(KSERVE, steps=steps, candidate_phase=None))
    assert refused is not None
    assert refused.reason == "StepNotSupported"
    assert words in refused.message


@pytest.mark.parametrize(
    ("facts", "reason", "words"),
    [
        (replace(READY, candidate_phase="Held"), "CandidateNotStaged", "churn-v2 is Held"),
        (replace(READY, candidate_phase=None), "CandidateNotStaged", "not trained yet"),
        (
            replace(READY, traffic=None),
            "DeploymentNotFound",
            "SeldonDeployment churn does not exist",
        ),
        (
            replace(KSERVE, traffic=None),
            "DeploymentNotFound",
            "InferenceService churn does not exist",
        ),
        (replace(READY, traffic=Traffic(0, 0)), "BaselineMissing", "serves no live baseline"),
        (replace(READY, competing=("churn-v1",)), "TargetTaken", "Rollout churn-v1 already"),
        (
            replace(READY, invalid_queries=("drift: bad_data: parse error",)),
            "QueryInvalid",
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
