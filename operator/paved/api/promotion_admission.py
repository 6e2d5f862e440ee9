"""The ValidatingAdmissionPolicy that holds ModelVersions and Rollouts to the PromotionPolicies.

Each PromotionPolicy is a parameter: the API server evaluates the rules once per policy, and a
write is refused when any policy that governs its namespace refuses it, with that policy's name.
Only spec changes are judged (see `policies`). The operator applies the same rules again
(`paved.core.promotion_policy`) so a policy tightened after admission still holds.
"""

from __future__ import annotations

from typing import Any, Final

from paved.api.meta import GROUP, VERSION
from paved.api.policies import SIGN_OFF_CHANGED, admission_object, rule

PROMOTION_POLICY: Final = "paved-promotion-policy"

_SAYS = "'PromotionPolicy ' + params.metadata.name + ': '"
_GATES = "object.spec.gates"
_IS_MV = "request.resource.resource == 'modelversions'"
_IS_ROLLOUT = "request.resource.resource == 'rollouts'"
# The first step past which the candidate is judged on outcomes or serves everyone.
_GATE_STEP = (
    "object.spec.steps.map(s, has(s.abTest) || has(s.full)"
    " || (has(s.canary) && s.canary.weight == 100)).indexOf(true)"
)
_VARIABLES = [
    {
        "name": "governs",
        "expression": "size(params.spec.?namespaces.orValue([])) == 0"
        " || request.namespace in params.spec.namespaces",
    },
    {
        "name": "judged",
        "expression": "variables.governs && (request.operation == 'CREATE'"
        " || object.spec != oldObject.spec)",
    },
    {"name": "modelVersion", "expression": f"variables.judged && {_IS_MV}"},
    {"name": "rollout", "expression": f"variables.judged && {_IS_ROLLOUT}"},
    {"name": "signOffChanged", "expression": f"{_IS_MV} && ({SIGN_OFF_CHANGED})"},
    {"name": "gateStep", "expression": f"{_IS_ROLLOUT} ? {_GATE_STEP} : -1"},
    {
        "name": "before",
        "expression": "variables.gateStep > 0"
        " ? object.spec.steps.slice(0, variables.gateStep) : []",
    },
    {
        "name": "shadow",
        "expression": "([duration('0s')] + variables.before.filter(s, has(s.shadow))"
        ".map(s, duration(s.shadow.duration))).sum()",
    },
    {
        "name": "canary",
        "expression": "([duration('0s')] + variables.before.filter(s, has(s.canary)"
        " && s.canary.weight >= params.spec.rollout.minCanary.weight)"
        ".map(s, duration(s.canary.duration))).sum()",
    },
]
_RULES = [
    rule(
        f"!variables.modelVersion || !params.spec.gates.requireSchema || {_GATES}.schema.enabled",
        f"{_SAYS} + 'spec.gates.schema.enabled: the schema gate must be enabled'",
    ),
    rule(
        f"!variables.modelVersion || size({_GATES}.?golden.orValue([]))"
        " >= params.spec.gates.minGoldenCases",
        f"{_SAYS} + 'spec.gates.golden: at least ' + string(params.spec.gates.minGoldenCases)"
        f" + ' golden cases, and there are ' + string(size({_GATES}.?golden.orValue([])))",
    ),
    rule(
        "!variables.modelVersion || params.spec.gates.?protectedCohorts.orValue([]).all(c,"
        " c in object.spec.labels.?cohortColumns.orValue([])"
        f" && {_GATES}.?slices.orValue([]).exists(s, s.where.matches('\\\\b' + c + '\\\\b')))",
        f"{_SAYS} + 'protected cohorts ' + params.spec.gates.protectedCohorts.join(', ')"
        " + ' must be cohort columns of spec.labels and each judged by a slice gate'",
    ),
    rule(
        "!variables.modelVersion || !has(params.spec.gates.maxDriftPsi)"
        f" || {_GATES}.drift.maxPsi <= params.spec.gates.maxDriftPsi",
        f"{_SAYS} + 'spec.gates.drift.maxPsi may not exceed '"
        " + string(params.spec.gates.maxDriftPsi)",
    ),
    rule(
        "!variables.modelVersion || !has(params.spec.gates.maxMetricRegression)"
        f" || {_GATES}.metric.maxRegression <= params.spec.gates.maxMetricRegression",
        f"{_SAYS} + 'spec.gates.metric.maxRegression may not exceed '"
        " + string(params.spec.gates.maxMetricRegression)",
    ),
    rule(
        "!variables.modelVersion || !has(params.spec.gates.maxMetricRegression)"
        f" || !has({_GATES}.metric.maxRelativeRegression)",
        f"{_SAYS} + 'spec.gates.metric: the regression is bounded in absolute terms:"
        " give maxRegression, not maxRelativeRegression'",
    ),
    rule(
        "!variables.governs || !variables.signOffChanged"
        " || size(params.spec.signOff.approverGroups) == 0"
        " || object.spec.approval.signOff.?groups.orValue([])"
        ".exists(g, g in params.spec.signOff.approverGroups)",
        f"{_SAYS} + 'spec.approval.signOff: ' + request.userInfo.username"
        " + ' is not in an approver group (' + params.spec.signOff.approverGroups.join(', ') + ')'",
    ),
    rule(
        "!variables.rollout || variables.gateStep < 0"
        " || variables.shadow >= duration(params.spec.rollout.minShadow)",
        f"{_SAYS} + 'spec.steps: ' + params.spec.rollout.minShadow + ' of shadow before an A/B"
        " test or full traffic, and the steps before it declare ' + string(variables.shadow)",
    ),
    rule(
        "!variables.rollout || variables.gateStep < 0"
        " || variables.canary >= duration(params.spec.rollout.minCanary.duration)",
        f"{_SAYS} + 'spec.steps: ' + params.spec.rollout.minCanary.duration + ' of canary at '"
        " + string(params.spec.rollout.minCanary.weight) + '% or more before an A/B test or full"
        " traffic, and the steps before it declare ' + string(variables.canary)",
    ),
]


def promotion_policy() -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy with PromotionPolicy as its parameter, and its binding."""
    policy = admission_object(
        "ValidatingAdmissionPolicy",
        PROMOTION_POLICY,
        {
            "failurePolicy": "Fail",
            "paramKind": {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PromotionPolicy"},
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": [VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["modelversions", "rollouts"],
                    }
                ]
            },
            "variables": _VARIABLES,
            "validations": _RULES,
        },
    )
    binding = admission_object(
        "ValidatingAdmissionPolicyBinding",
        PROMOTION_POLICY,
        {
            "policyName": PROMOTION_POLICY,
            "validationActions": ["Deny"],
            # Every PromotionPolicy; none at all governs nothing (the operator's defaults hold).
            "paramRef": {"selector": {}, "parameterNotFoundAction": "Allow"},
        },
    )
    return [policy, binding]
