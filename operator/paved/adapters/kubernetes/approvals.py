"""Sign a ModelVersion off as the caller: the name comes from the API server, never from input.

The API server's SelfSubjectReview says who the credentials belong to; the sign-off carries that
name, and the ValidatingAdmissionPolicy shipped with the CRDs admits it only from that user, in
one of the ModelVersion's approver groups.
"""

from __future__ import annotations

import json

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved.errors import PermanentError


class SignOffRefusedError(PermanentError):
    """The API server refused the sign-off; the message is its reason."""


def sign_off(api: client.ApiClient, namespace: str, model_version: str, comment: str) -> str:
    """Sign `model_version` off as the authenticated user; return that user's name."""
    review = client.AuthenticationV1Api(api).create_self_subject_review(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    )
    user = str(review.status.user_info.username)
    patch = {"spec": {"approval": {"signOff": {"by": user, "comment": comment}}}}
    try:
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            "paved.dev", "v1alpha1", namespace, "modelversions", model_version, patch
        )
    except ApiException as error:
        reason = json.loads(error.body or "{}").get("message", error.reason)
        raise SignOffRefusedError(str(reason)) from error
    return user
