"""Whether a Rollout may start: refusals a person can act on, before any traffic moves.

Pure. The controller gathers the facts (the candidate's phase, what the router sees, the other
Rollouts on the same deployment, the custom queries Prometheus refused) and acts only on None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paved.core.reasons import AdmissionReason
from paved.core.refusals import Refusal
from paved.core.rollout_steps import Traffic

# A version that failed a gate, failed to train or was retired never takes traffic.
_STARTABLE = ("Staging", "Production")


@dataclass(frozen=True)
class Facts:
    candidate: str
    candidate_phase: str | None
    deployment: str
    baseline_predictor: str
    traffic: Traffic | None  # None: the deployment does not exist
    competing: Sequence[str] = ()  # older Rollouts still moving this deployment's traffic
    invalid_queries: Sequence[str] = ()  # "guardrail: why", for queries Prometheus refused
    policy_violations: Sequence[str] = ()  # what a PromotionPolicy demands of the steps


@dataclass(frozen=True)
class Claim:
    """One Rollout as a claim on a deployment's traffic."""

    name: str
    created: str  # RFC 3339: orders as text
    deployment: str
    started: bool
    finished: bool


def competitors(mine: Claim, others: Sequence[Claim]) -> list[str]:
    """The Rollouts that hold `mine`'s deployment first: started ones, or older unstarted ones
    (by creation time, then name), so exactly one of several new claims goes ahead."""
    return [
        other.name
        for other in others
        if other.name != mine.name
        and other.deployment == mine.deployment
        and not other.finished
        and (other.started or (other.created, other.name) < (mine.created, mine.name))
    ]


def refusal(facts: Facts) -> Refusal | None:
    if facts.candidate_phase not in _STARTABLE:
        return Refusal(
            AdmissionReason.CANDIDATE_NOT_STAGED,
            f"ModelVersion {facts.candidate} is {facts.candidate_phase or 'not trained yet'}: "
            "only a version that passed its gates (Staging) may take traffic.",
        )
    if facts.traffic is None:
        return Refusal(
            AdmissionReason.DEPLOYMENT_NOT_FOUND,
            f"SeldonDeployment {facts.deployment} does not exist.",
        )
    if facts.traffic.baseline + facts.traffic.candidate == 0:
        return Refusal(
            AdmissionReason.BASELINE_MISSING,
            f"SeldonDeployment {facts.deployment} has no live predictor "
            f"{facts.baseline_predictor!r} to roll out from.",
        )
    if facts.competing:
        return Refusal(
            AdmissionReason.TARGET_TAKEN,
            f"Rollout {', '.join(facts.competing)} already moves {facts.deployment}'s traffic; "
            "one rollout per deployment at a time.",
        )
    if facts.invalid_queries:
        return Refusal(
            AdmissionReason.QUERY_INVALID, "Prometheus refused: " + "; ".join(facts.invalid_queries)
        )
    if facts.policy_violations:
        return Refusal(AdmissionReason.POLICY_VIOLATED, "; ".join(facts.policy_violations) + ".")
    return None
