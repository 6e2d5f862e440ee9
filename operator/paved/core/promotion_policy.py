"""What the platform's PromotionPolicies demand, judged against a ModelVersion or a Rollout.

Pure. The admission policy refuses a violating write with the policy's name; these functions are
the operator's second look, so a policy tightened after admission still holds before production,
and they decide whether a sign-off still approves what would be promoted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from paved.api.meta import parse_duration
from paved.api.model_version import (
    Approval,
    GateResult,
    Gates,
    ModelVersionPhase,
    ModelVersionSpec,
    ModelVersionStatus,
)
from paved.api.promotion_policy import PromotionPolicySpec
from paved.api.rollout import RolloutSpec, Step
from paved.core.conditions import Observation
from paved.core.gates import strictest_floor
from paved.core.model_versions import APPROVED
from paved.core.reasons import PolicyReason, SignOffReason

POLICY_SATISFIED: Final = "PolicySatisfied"
POLICY_VIOLATED: Final = PolicyReason.POLICY_VIOLATED
_PROMOTABLE: Final = frozenset({ModelVersionPhase.STAGING, ModelVersionPhase.PRODUCTION})


@dataclass(frozen=True)
class NamedPolicy:
    name: str
    spec: PromotionPolicySpec


@dataclass(frozen=True)
class Authors:
    """Who created the ModelVersion and who last changed its spec, as the API server recorded
    them (a mutating admission policy writes them; nobody can set them by hand)."""

    created_by: str | None = None
    spec_changed_by: str | None = None


@dataclass(frozen=True)
class SignOffVerdict:
    valid: bool  # a sign-off that approves what would be promoted, by someone who may give it
    condition: Observation


def governing(policies: Iterable[NamedPolicy], namespace: str) -> tuple[NamedPolicy, ...]:
    """The policies that select `namespace`, by name: all of them hold there."""
    chosen = (p for p in policies if not p.spec.namespaces or namespace in p.spec.namespaces)
    return tuple(sorted(chosen, key=lambda p: p.name))


def sign_off_required(policies: Sequence[NamedPolicy]) -> bool:
    """Required unless a policy governs the namespace and every one that does waives it."""
    return not policies or any(p.spec.sign_off.required for p in policies)


def gates_digest(results: Sequence[GateResult]) -> str:
    """What a sign-off approves of the gates: each gate's verdict and numbers, in order."""
    document = [(r.name, r.verdict, r.value, r.threshold) for r in results]
    encoded = json.dumps(document, separators=(",", ":"), allow_nan=True).encode()
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


def metric_floor(policies: Sequence[NamedPolicy], gates: Gates) -> float | None:
    """The absolute floor of the metric gate's metric: the strictest of the ModelVersion's
    minValue and every governing policy's floor for that metric."""
    metric = gates.metric.name
    floors = [p.spec.gates.metric_floors.get(metric.value) for p in policies]
    return strictest_floor(metric, [gates.metric.min_value, *floors])


def _names(column: str, where: str) -> bool:
    return re.search(rf"\b{re.escape(column)}\b", where) is not None


_ABSOLUTE = "give maxRegression, not maxRelativeRegression"


def gate_violations(policies: Sequence[NamedPolicy], spec: ModelVersionSpec) -> list[str]:
    """What the ModelVersion's gates lack against each policy, one sentence each."""
    gates = spec.gates
    found = []
    for policy in policies:
        rules, says = policy.spec.gates, f"PromotionPolicy {policy.name}:"
        if rules.require_schema and not gates.schema_.enabled:
            found.append(f"{says} the schema gate must be enabled")
        if len(gates.golden) < rules.min_golden_cases:
            found.append(
                f"{says} at least {rules.min_golden_cases} golden cases, "
                f"and there are {len(gates.golden)}"
            )
        for cohort in rules.protected_cohorts:
            kept = cohort in spec.labels.cohort_columns
            judged = any(_names(cohort, s.where) for s in gates.slices)
            if not (kept and judged):
                found.append(
                    f"{says} protected cohort {cohort} must be a cohort column of the labels "
                    "and judged by a slice gate"
                )
        if rules.max_drift_psi is not None and gates.drift.max_psi > rules.max_drift_psi:
            found.append(
                f"{says} the drift gate's maxPsi {gates.drift.max_psi:g} exceeds "
                f"{rules.max_drift_psi:g}"
            )
        limit = rules.max_metric_regression
        if limit is not None and gates.metric.max_regression > limit:
            found.append(
                f"{says} the metric gate's maxRegression {gates.metric.max_regression:g} "
                f"exceeds {limit:g}"
            )
        if limit is not None and gates.metric.max_relative_regression is not None:
            found.append(
                f"{says} the metric gate's regression is bounded in absolute terms: {_ABSOLUTE}"
            )
    return found


def is_gate(step: Step) -> bool:
    """A step past which the candidate is judged on business outcomes or serves everyone."""
    return (
        step.ab_test is not None
        or step.interleave is not None
        or step.full is not None
        or (step.canary is not None and step.canary.weight == 100)
    )


def _held(steps: Sequence[Step], *, minimum_weight: int) -> tuple[float, float]:
    """Declared shadow seconds and canary seconds (at `minimum_weight` or more) in `steps`."""
    shadow = sum(parse_duration(s.shadow.duration).total_seconds() for s in steps if s.shadow)
    canary = sum(
        parse_duration(s.canary.duration).total_seconds()
        for s in steps
        if s.canary is not None and s.canary.weight >= minimum_weight
    )
    return shadow, canary


def _shortfalls(
    policies: Sequence[NamedPolicy], shadow: float, canary: float, *, what: str
) -> list[str]:
    found = []
    for policy in policies:
        rules = policy.spec.rollout
        need_shadow = parse_duration(rules.min_shadow).total_seconds()
        need_canary = parse_duration(rules.min_canary.duration).total_seconds()
        if shadow < need_shadow:
            found.append(
                f"PromotionPolicy {policy.name}: {rules.min_shadow} of shadow before an A/B test "
                f"or full traffic, and {what} {shadow:g}s"
            )
        if canary < need_canary:
            found.append(
                f"PromotionPolicy {policy.name}: {rules.min_canary.duration} of canary at "
                f"{rules.min_canary.weight}% or more before an A/B test or full traffic, and "
                f"{what} {canary:g}s"
            )
    return found


def rollout_violations(policies: Sequence[NamedPolicy], spec: RolloutSpec) -> list[str]:
    """What the Rollout's declared steps lack before their first A/B test or full step."""
    gate = next((i for i, s in enumerate(spec.steps) if is_gate(s)), None)
    if gate is None:
        return []
    found = []
    for policy in policies:
        weight = policy.spec.rollout.min_canary.weight
        shadow, canary = _held(spec.steps[:gate], minimum_weight=weight)
        found += _shortfalls([policy], shadow, canary, what="the steps before it declare")
    return found


def evidence_shortfall(
    policies: Sequence[NamedPolicy],
    spec: RolloutSpec,
    *,
    at_step: int | None,
    started_at: dt.datetime | None,
    now: dt.datetime,
) -> list[str]:
    """What the Rollout has not yet spent in shadow and canary, standing at `at_step` since
    `started_at`, before it may enter an A/B test or full step (a promote skips steps)."""
    if at_step is None:
        return _shortfalls(policies, 0.0, 0.0, what="it has spent") if policies else []
    found = []
    elapsed = (now - started_at).total_seconds() if started_at is not None else 0.0
    current = spec.steps[at_step]
    for policy in policies:
        weight = policy.spec.rollout.min_canary.weight
        shadow, canary = _held(spec.steps[:at_step], minimum_weight=weight)
        shadow += elapsed if current.shadow is not None else 0.0
        counts = current.canary is not None and current.canary.weight >= weight
        canary += elapsed if counts else 0.0
        found += _shortfalls([policy], shadow, canary, what="it has spent")
    return found


def sign_off_verdict(
    policies: Sequence[NamedPolicy],
    approval: Approval,
    authors: Authors,
    *,
    registry_version: str | None,
    digest: str | None,
) -> SignOffVerdict:
    """Whether the sign-off approves what would be promoted: the registry version and gates
    results that are current, by someone other than the spec's authors, in the groups that
    every rule names. Without one: whether one is needed."""
    sign_off = approval.sign_off
    if sign_off is None:
        if sign_off_required(policies):
            return _refused(
                SignOffReason.AWAITING_SIGN_OFF, "Production needs a sign-off by an approver."
            )
        waived = ", ".join(p.name for p in policies)
        message = f"PromotionPolicy {waived} waives the sign-off."
        return SignOffVerdict(
            True, Observation(APPROVED, "True", SignOffReason.NOT_REQUIRED, message)
        )
    by = sign_off.by
    if by in (authors.created_by, authors.spec_changed_by):
        return _refused(
            SignOffReason.SELF_APPROVAL,
            f"{by} created or last changed this ModelVersion's spec and may not sign it off: "
            "a second person must (four eyes).",
        )
    if registry_version != sign_off.registry_version or digest != sign_off.gates_digest:
        now_is = f"version {registry_version}" if registry_version else "not registered yet"
        return _refused(
            SignOffReason.SIGN_OFF_VOIDED,
            f"{by} signed off registry version {sign_off.registry_version} with gates "
            f"{sign_off.gates_digest[:19]}…; the model is now {now_is} (retrained or re-gated "
            "since): sign off again.",
        )
    rules = [("the ModelVersion", approval.approver_groups)] + [
        (f"PromotionPolicy {p.name}", p.spec.sign_off.approver_groups) for p in policies
    ]
    for owner, groups in rules:
        if groups and not set(groups) & set(sign_off.groups):
            return _refused(
                SignOffReason.NOT_AN_APPROVER,
                f"{by} is in none of {owner}'s approver groups ({', '.join(groups)}).",
            )
    message = f"Signed off by {by}: registry version {sign_off.registry_version}."
    return SignOffVerdict(True, Observation(APPROVED, "True", SignOffReason.SIGNED_OFF, message))


def _refused(reason: SignOffReason, message: str) -> SignOffVerdict:
    return SignOffVerdict(False, Observation(APPROVED, "False", reason, message))


def promotion_refusal(
    name: str,
    spec: ModelVersionSpec,
    status: ModelVersionStatus,
    *,
    authors: Authors,
    policies: Sequence[NamedPolicy],
) -> str | None:
    """Why ModelVersion `name` may not become production now, if it may not."""
    if status.phase not in _PROMOTABLE:
        phase = status.phase.value if status.phase is not None else "not trained yet"
        return f"ModelVersion {name} is {phase}: only a version whose gates passed can be promoted."
    violations = gate_violations(policies, spec)
    if violations:
        return f"ModelVersion {name} breaks policy: {'; '.join(violations)}."
    verdict = sign_off_verdict(
        policies,
        spec.approval,
        authors,
        registry_version=status.registry.version if status.registry else None,
        digest=status.gates_digest,
    )
    if not verdict.valid:
        return f"ModelVersion {name}: {verdict.condition.message}"
    return None
