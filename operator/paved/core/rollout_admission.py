"""Whether a Rollout may start: refusals a person can act on, before any traffic moves.

Pure. The controller gathers the facts (the candidate's phase, what the router sees and can do,
the other Rollouts on the same target, the custom queries Prometheus refused) and acts only on
None. Messages name the target as its backend does ("SeldonDeployment churn", "InferenceService
churn"); nothing here knows one backend from another.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from paved.api.rollout import Backend, Step
from paved.core.reasons import AdmissionReason
from paved.core.refusals import Refusal
from paved.core.rollout_steps import Traffic
from paved.core.serving import Capability, unsupported_steps

# A version that failed a gate, failed to train or was retired never takes traffic.
_STARTABLE = ("Staging", "Production")


@dataclass(frozen=True)
class Facts:
    candidate: str
    candidate_phase: str | None
    target: str  # as a person names it: "SeldonDeployment churn"
    backend: Backend
    capabilities: frozenset[Capability]  # what the target's router can do
    steps: Sequence[Step]
    traffic: Traffic | None  # None: the target does not exist
    competing: Sequence[str] = ()  # older Rollouts still moving this target's traffic
    invalid_queries: Sequence[str] = ()  # "guardrail: why", for queries Prometheus refused
    policy_violations: Sequence[str] = ()  # what a PromotionPolicy demands of the steps


@dataclass(frozen=True)
class Claim:
    """One Rollout as a claim on a target's traffic."""

    name: str
    created: str  # RFC 3339: orders as text
    target: str  # the backend and the object's name: "InferenceService/churn"
    started: bool
    finished: bool


def competitors(mine: Claim, others: Sequence[Claim]) -> list[str]:
    """The Rollouts that hold `mine`'s target first: started ones, or older unstarted ones
    (by creation time, then name), so exactly one of several new claims goes ahead."""
    return [
        other.name
        for other in others
        if other.name != mine.name
        and other.target == mine.target
        and not other.finished
        and (other.started or (other.created, other.name) < (mine.created, mine.name))
    ]


def refusal(facts: Facts) -> Refusal | None:
    unsupported = unsupported_steps(facts.steps, facts.backend, facts.capabilities)
    if unsupported is not None:
        return Refusal(AdmissionReason.STEP_NOT_SUPPORTED, unsupported)
    if facts.candidate_phase not in _STARTABLE:
        return Refusal(
            AdmissionReason.CANDIDATE_NOT_STAGED,
            f"ModelVersion {facts.candidate} is {facts.candidate_phase or 'not trained yet'}: "
            "only a version that passed its gates (Staging) may take traffic.",
        )
    if facts.traffic is None:
        return Refusal(AdmissionReason.DEPLOYMENT_NOT_FOUND, f"{facts.target} does not exist.")
    if facts.traffic.baseline + facts.traffic.candidate == 0:
        return Refusal(
            AdmissionReason.BASELINE_MISSING,
            f"{facts.target} serves no live baseline to roll out from.",
        )
    if facts.competing:
        return Refusal(
            AdmissionReason.TARGET_TAKEN,
            f"Rollout {', '.join(facts.competing)} already moves {facts.target}'s traffic; "
            "one rollout per target at a time.",
        )
    if facts.invalid_queries:
        return Refusal(
            AdmissionReason.QUERY_INVALID, "Prometheus refused: " + "; ".join(facts.invalid_queries)
        )
    if facts.policy_violations:
        return Refusal(AdmissionReason.POLICY_VIOLATED, "; ".join(facts.policy_violations) + ".")
    return None
