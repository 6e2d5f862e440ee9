"""Admission policies that ship with the CRDs: the API server, not the operator, enforces them.

Sign-off: a ModelVersion's `spec.approval.signOff.by` must name the very user making the
request, and that user must belong to one of `approverGroups` (when any are listed). The
identity comes from the API server's authentication, so nobody can sign off for someone else.
"""

from __future__ import annotations

from typing import Any, Final

from paved.api.meta import GROUP, VERSION

SIGN_OFF_POLICY: Final = "paved-modelversion-sign-off"

_CHANGED = (
    "has(object.spec.approval.signOff) && !(request.operation == 'UPDATE'"
    " && has(oldObject.spec.approval.signOff)"
    " && oldObject.spec.approval.signOff == object.spec.approval.signOff)"
)


def sign_off_policy() -> list[dict[str, Any]]:
    """The ValidatingAdmissionPolicy and its binding."""
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": SIGN_OFF_POLICY},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [GROUP],
                        "apiVersions": [VERSION],
                        "operations": ["CREATE", "UPDATE"],
                        "resources": ["modelversions"],
                    }
                ]
            },
            "variables": [{"name": "signOffChanged", "expression": _CHANGED}],
            "validations": [
                {
                    "expression": (
                        "!variables.signOffChanged"
                        " || object.spec.approval.signOff.by == request.userInfo.username"
                    ),
                    "messageExpression": (
                        "'spec.approval.signOff.by: ' + request.userInfo.username"
                        " + ' cannot sign off as ' + object.spec.approval.signOff.by"
                        " + '; a sign-off records the user who makes it'"
                    ),
                    "reason": "Forbidden",
                },
                {
                    "expression": (
                        "!variables.signOffChanged"
                        " || !has(object.spec.approval.approverGroups)"
                        " || size(object.spec.approval.approverGroups) == 0"
                        " || object.spec.approval.approverGroups.exists("
                        "g, g in request.userInfo.groups)"
                    ),
                    "messageExpression": (
                        "'spec.approval.signOff: ' + request.userInfo.username"
                        " + ' is not in an approver group ('"
                        " + object.spec.approval.approverGroups.join(', ') + ')'"
                    ),
                    "reason": "Forbidden",
                },
            ],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding",
        "metadata": {"name": SIGN_OFF_POLICY},
        "spec": {"policyName": SIGN_OFF_POLICY, "validationActions": ["Deny"]},
    }
    return [policy, binding]
