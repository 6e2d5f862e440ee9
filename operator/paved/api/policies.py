"""Admission policies that ship with the CRDs: the API server, not the operator, enforces them.

- `paved-modelversion-authors` (mutating): records who created a ModelVersion and who last
  changed its spec (anything but the sign-off) in two annotations. The API server writes them
  from the request's authenticated user, so nobody can forge them.
- `paved-modelversion-sign-off`: a sign-off names the very user making the request, in the
  groups the API server authenticated, who neither created nor last changed the spec (four
  eyes); it approves the registry version and gates' digest the status shows now; it is given
  in a request that changes nothing it relies on (approver groups, gates); and the author
  annotations are the API server's alone.
- `paved-promotion-policy`: takes each PromotionPolicy as its parameter and refuses a
  ModelVersion or Rollout spec that breaks a policy governing its namespace, with the policy's
  name. Only spec changes are judged, so a policy tightened later never blocks the operator's
  own writes (finalizers) on objects admitted before.
"""

from __future__ import annotations

from typing import Any, Final

from paved.api.meta import GROUP, VERSION
from paved.api.model_version import Approval, ModelVersionSpec

SIGN_OFF_POLICY: Final = "paved-modelversion-sign-off"
AUTHORS_POLICY: Final = "paved-modelversion-authors"
PROMOTION_POLICY: Final = "paved-promotion-policy"
CREATED_BY: Final = f"{GROUP}/created-by"
SPEC_CHANGED_BY: Final = f"{GROUP}/spec-changed-by"

_SIGN_OFF = "object.spec.approval.signOff"


def _differs(path: str, fields: list[str]) -> list[str]:
    # Optional selection (`.?f`): a field left out on one side and not the other differs too.
    return [f"object.{path}.?{f} != oldObject.{path}.?{f}" for f in fields]


def _aliases(model: Any, *, leaving_out: str = "") -> list[str]:
    return [f.alias or n for n, f in model.model_fields.items() if (f.alias or n) != leaving_out]


# Every part of the spec but the sign-off itself, from the model: a new field is covered.
SPEC_CHANGED: Final = " || ".join(
    [
        "request.operation == 'CREATE'",
        *_differs("spec", _aliases(ModelVersionSpec, leaving_out="approval")),
        *_differs("spec.approval", _aliases(Approval, leaving_out="signOff")),
    ]
)
SIGN_OFF_CHANGED: Final = (
    f"has({_SIGN_OFF}) && !(request.operation == 'UPDATE'"
    " && has(oldObject.spec.approval.signOff)"
    f" && oldObject.spec.approval.signOff == {_SIGN_OFF})"
)
MODEL_VERSIONS: Final = {
    "resourceRules": [
        {
            "apiGroups": [GROUP],
            "apiVersions": [VERSION],
            "operations": ["CREATE", "UPDATE"],
            "resources": ["modelversions"],
        }
    ]
}


def admission_object(kind: str, name: str, spec: dict[str, Any]) -> dict[str, Any]:
    """One admissionregistration.k8s.io/v1 object (a policy or its binding)."""
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    }


def _annotation(owner: str, key: str) -> str:
    return f"{owner}.metadata.?annotations[?'{key}'].orValue('')"


def rule(expression: str, message: str) -> dict[str, str]:
    return {"expression": expression, "messageExpression": message, "reason": "Forbidden"}


def authors_policy() -> list[dict[str, Any]]:
    """The MutatingAdmissionPolicy that records the spec's authors, and its binding."""
    created = (
        "request.operation == 'CREATE' ? request.userInfo.username"
        f" : {_annotation('oldObject', CREATED_BY)}"
    )
    was_changed_by = _annotation("oldObject", SPEC_CHANGED_BY)
    changed = f"variables.specChanged ? request.userInfo.username : {was_changed_by}"
    policy = admission_object(
        "MutatingAdmissionPolicy",
        AUTHORS_POLICY,
        {
            "failurePolicy": "Fail",
            "reinvocationPolicy": "Never",
            "matchConstraints": MODEL_VERSIONS,
            "variables": [{"name": "specChanged", "expression": SPEC_CHANGED}],
            "mutations": [
                {
                    "patchType": "ApplyConfiguration",
                    "applyConfiguration": {
                        "expression": (
                            "Object{metadata: Object.metadata{annotations: {"
                            f"'{CREATED_BY}': {created}, '{SPEC_CHANGED_BY}': {changed}"
                            "}}}"
                        )
                    },
                }
            ],
        },
    )
    binding = admission_object(
        "MutatingAdmissionPolicyBinding", AUTHORS_POLICY, {"policyName": AUTHORS_POLICY}
    )
    return [policy, binding]


_BY = f"{_SIGN_OFF}.by"
_SIGN_OFF_RULES = [
    rule(
        f"!variables.signOffChanged || {_BY} == request.userInfo.username",
        f"'spec.approval.signOff.by: ' + request.userInfo.username + ' cannot sign off as ' + {_BY}"
        " + '; a sign-off records the user who makes it'",
    ),
    rule(
        f"!variables.signOffChanged || {_SIGN_OFF}.?groups.orValue([])"
        ".all(g, g in request.userInfo.groups)",
        "'spec.approval.signOff.groups: ' + request.userInfo.username + ' is not in every group"
        " listed; list only the groups the API server knows you by'",
    ),
    rule(
        "!variables.signOffChanged || request.operation == 'UPDATE'",
        "'spec.approval.signOff: a ModelVersion cannot be created signed off: sign off once it is"
        " trained, naming the registry version and gates digest its status shows'",
    ),
    rule(
        "!variables.signOffChanged || (oldObject.spec.approval.?approverGroups =="
        " object.spec.approval.?approverGroups && oldObject.spec.gates == object.spec.gates)",
        "'spec.approval.signOff: the rules a sign-off relies on (approverGroups, gates) cannot"
        " change in the request that signs'",
    ),
    rule(
        "!variables.signOffChanged || (object.?status.?registry.?version.orValue('') =="
        f" {_SIGN_OFF}.registryVersion && object.?status.?gatesDigest.orValue('') =="
        f" {_SIGN_OFF}.gatesDigest)",
        "'spec.approval.signOff: it must name the registry version and gates digest the status"
        " shows now (' + object.?status.?registry.?version.orValue('none') + ', '"
        " + object.?status.?gatesDigest.orValue('none')"
        " + '): a sign-off approves what was trained'",
    ),
    rule(
        "!variables.signOffChanged || (size(oldObject.spec.approval.?approverGroups.orValue([]))"
        " == 0 || oldObject.spec.approval.approverGroups.exists(g, g in request.userInfo.groups))",
        "'spec.approval.signOff: ' + request.userInfo.username + ' is not in an approver group ('"
        " + oldObject.spec.approval.?approverGroups.orValue([]).join(', ') + ')'",
    ),
    rule(
        f"!variables.signOffChanged || ({_BY} != {_annotation('object', CREATED_BY)}"
        f" && {_BY} != {_annotation('object', SPEC_CHANGED_BY)})",
        f"'spec.approval.signOff: ' + {_BY} + ' created or last changed this ModelVersion\\'s"
        " spec and may not sign it off: a second person must (four eyes)'",
    ),
    rule(
        f"request.operation == 'CREATE' ? {_annotation('object', CREATED_BY)} =="
        f" request.userInfo.username : {_annotation('object', CREATED_BY)} =="
        f" {_annotation('oldObject', CREATED_BY)}",
        f"'metadata.annotations[{CREATED_BY}]: set by the API server only'",
    ),
    rule(
        f"variables.specChanged ? {_annotation('object', SPEC_CHANGED_BY)} =="
        f" request.userInfo.username : {_annotation('object', SPEC_CHANGED_BY)} =="
        f" {_annotation('oldObject', SPEC_CHANGED_BY)}",
        f"'metadata.annotations[{SPEC_CHANGED_BY}]: set by the API server only'",
    ),
]


def sign_off_policy() -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy for sign-offs and authors, and its binding."""
    policy = admission_object(
        "ValidatingAdmissionPolicy",
        SIGN_OFF_POLICY,
        {
            "failurePolicy": "Fail",
            "matchConstraints": MODEL_VERSIONS,
            "variables": [
                {"name": "signOffChanged", "expression": SIGN_OFF_CHANGED},
                {"name": "specChanged", "expression": SPEC_CHANGED},
            ],
            "validations": _SIGN_OFF_RULES,
        },
    )
    binding = admission_object(
        "ValidatingAdmissionPolicyBinding",
        SIGN_OFF_POLICY,
        {"policyName": SIGN_OFF_POLICY, "validationActions": ["Deny"]},
    )
    return [policy, binding]
