"""The operator's second look at the PromotionPolicies: what a ModelVersion's gates lack, what a
Rollout has not yet spent in shadow and canary, and whether a sign-off still approves what would
be promoted."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from paved.api.model_version import (
    MetricGate,
    ModelVersionPhase,
    ModelVersionSpec,
    ModelVersionStatus,
    RegistryEntry,
)
from paved.api.promotion_policy import PromotionPolicySpec
from paved.api.rollout import RolloutSpec
from paved.core.promotion_policy import (
    Authors,
    NamedPolicy,
    evidence_shortfall,
    gate_violations,
    governing,
    promotion_refusal,
    rollout_violations,
    sign_off_required,
    sign_off_verdict,
)
from paved.core.reasons import SignOffReason
from tests.support.model_versions import SPEC

T0 = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
ROLLOUT = RolloutSpec.model_validate(
    {
        "candidate": "churn-v2",
        "target": {"seldonDeployment": {"name": "churn"}},
        "steps": [
            {"shadow": {"duration": "10m"}},
            {"canary": {"weight": 5, "duration": "5m"}},
            {"abTest": {"minimumDetectableEffect": 0.02}},
            {"full": {}},
        ],
    }
)
STATUS = ModelVersionStatus(
    phase=ModelVersionPhase.STAGING,
    registry=RegistryEntry(name="churn", version="3"),
    gates_digest="sha256:g3",
)


def _policy(name: str = "regulated", **spec: Any) -> NamedPolicy:
    return NamedPolicy(name, PromotionPolicySpec.model_validate(spec))


def _signed(**sign_off: Any) -> ModelVersionSpec:
    document = SPEC.model_dump(by_alias=True, mode="json")
    approved = {"by": "alice", "registryVersion": "3", "gatesDigest": "sha256:g3"}
    document["approval"]["signOff"] = approved | {"groups": ["ml-approvers"]} | sign_off
    return ModelVersionSpec.model_validate(document)


def test_a_policy_governs_the_namespaces_it_names_or_all() -> None:
    everywhere, team = _policy("everywhere"), _policy("team", namespaces=["team-a"])
    assert governing([team, everywhere], "team-a") == (everywhere, team)
    assert governing([team, everywhere], "team-b") == (everywhere,)


def test_a_sign_off_is_needed_unless_every_governing_policy_waives_it() -> None:
    waive = {"signOff": {"required": False}}
    assert sign_off_required(())  # no policy: the safe default
    assert not sign_off_required((_policy(**waive),))
    assert sign_off_required((_policy(**waive), _policy("strict")))


def test_gate_violations_name_the_policy_and_what_is_missing() -> None:
    rules = {"requireSchema": True, "minGoldenCases": 5, "maxDriftPsi": 0.1}
    strict = _policy(gates=rules | {"protectedCohorts": ["age_band"]})
    found = gate_violations((strict,), SPEC)
    assert found[0] == "PromotionPolicy regulated: at least 5 golden cases, and there are 1"
    assert "protected cohort age_band must be a cohort column" in found[1]
    assert "maxPsi 0.2 exceeds 0.1" in found[2]
    assert gate_violations((_policy(),), SPEC) == []


def test_a_policys_regression_limit_is_not_escaped_by_the_relative_form() -> None:
    relative = SPEC.model_copy(
        update={
            "gates": SPEC.gates.model_copy(
                update={"metric": MetricGate(max_relative_regression=0.5)}
            )
        }
    )
    (found,) = gate_violations((_policy(gates={"maxMetricRegression": 0.01}),), relative)
    assert found == (
        "PromotionPolicy regulated: the metric gate's regression is bounded in absolute terms: "
        "give maxRegression, not maxRelativeRegression"
    )
    assert gate_violations((_policy(),), relative) == []


@pytest.mark.parametrize(
    ("sign_off", "authors", "reason"),
    [
        ({}, Authors("bob", "bob"), "SignedOff"),
        ({}, Authors("alice", "bob"), "SelfApproval"),
        ({}, Authors("bob", "alice"), "SelfApproval"),
        ({"registryVersion": "2"}, Authors(), "SignOffVoided"),
        ({"gatesDigest": "sha256:other"}, Authors(), "SignOffVoided"),
        ({"groups": ["analysts"]}, Authors(), "NotAnApprover"),
    ],
    ids=["valid", "creator", "last-editor", "other-version", "other-gates", "not-an-approver"],
)
def test_a_sign_off_approves_only_what_it_names_by_a_second_person(
    sign_off: dict[str, Any], authors: Authors, reason: str
) -> None:
    verdict = sign_off_verdict(
        (), _signed(**sign_off).approval, authors, registry_version="3", digest="sha256:g3"
    )
    assert verdict.condition.reason == reason
    assert verdict.valid is (reason == SignOffReason.SIGNED_OFF)


def test_a_retraining_voids_the_sign_off() -> None:
    verdict = sign_off_verdict(
        (), _signed().approval, Authors(), registry_version=None, digest=None
    )
    assert not verdict.valid
    assert "the model is now not registered yet" in verdict.condition.message


def test_the_policys_approver_groups_hold_too() -> None:
    risk = _policy(signOff={"approverGroups": ["risk"]})
    verdict = sign_off_verdict(
        (risk,), _signed().approval, Authors(), registry_version="3", digest="sha256:g3"
    )
    assert verdict.condition.reason == SignOffReason.NOT_AN_APPROVER
    assert "PromotionPolicy regulated's approver groups (risk)" in verdict.condition.message


def test_promotion_is_refused_with_what_is_missing() -> None:
    unsigned = promotion_refusal("churn-v2", SPEC, STATUS, authors=Authors(), policies=())
    assert unsigned == "ModelVersion churn-v2: Production needs a sign-off by an approver."
    held = STATUS.model_copy(update={"phase": ModelVersionPhase.HELD})
    assert "is Held" in str(promotion_refusal("v", _signed(), held, authors=Authors(), policies=()))
    assert promotion_refusal("v", _signed(), STATUS, authors=Authors(), policies=()) is None


def test_declared_steps_are_held_to_the_policys_shadow_and_canary_time() -> None:
    policy = _policy(rollout={"minShadow": "15m", "minCanary": {"duration": "5m", "weight": 5}})
    (short,) = rollout_violations((policy,), ROLLOUT)
    assert short == (
        "PromotionPolicy regulated: 15m of shadow before an A/B test or full traffic, and the "
        "steps before it declare 600s"
    )
    assert rollout_violations((_policy(rollout={"minShadow": "10m"}),), ROLLOUT) == []


def test_a_promote_may_not_skip_the_policys_shadow_time() -> None:
    policy = _policy(rollout={"minShadow": "10m"})
    in_shadow = {"at_step": 0, "started_at": T0}
    early = evidence_shortfall((policy,), ROLLOUT, now=T0 + dt.timedelta(minutes=2), **in_shadow)
    assert early == [
        "PromotionPolicy regulated: 10m of shadow before an A/B test or full traffic, and it has "
        "spent 120s"
    ]
    assert (
        evidence_shortfall((policy,), ROLLOUT, now=T0 + dt.timedelta(minutes=10), **in_shadow) == []
    )
