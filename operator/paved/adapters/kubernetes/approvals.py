"""Sign a ModelVersion off as the caller: the name comes from the API server, never from input.

The API server's SelfSubjectReview says who the credentials belong to and in which groups; the
sign-off carries them, with the registry version and gates digest the status shows now (what is
approved), and the admission policies shipped with the CRDs admit it only from that user, in the
approver groups, and not from who created or last changed the spec.
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
    groups = list(review.status.user_info.groups or [])
    objects = client.CustomObjectsApi(api)
    try:
        found = objects.get_namespaced_custom_object(
            "paved.dev", "v1alpha1", namespace, "modelversions", model_version
        )
    except ApiException as error:
        raise SignOffRefusedError(_reason(error)) from error
    status = found.get("status") or {}
    version = (status.get("registry") or {}).get("version")
    digest = status.get("gatesDigest")
    if not version or not digest:
        raise SignOffRefusedError(
            f"ModelVersion {model_version} has no registry version and gates results yet: "
            "sign off once it is trained and gated."
        )
    sign_off = {
        "by": user,
        "registryVersion": str(version),
        "gatesDigest": str(digest),
        "groups": groups,
        "comment": comment,
    }
    patch = {"spec": {"approval": {"signOff": sign_off}}}
    try:
        objects.patch_namespaced_custom_object(
            "paved.dev", "v1alpha1", namespace, "modelversions", model_version, patch
        )
    except ApiException as error:
        raise SignOffRefusedError(_reason(error)) from error
    return user


def _reason(error: ApiException) -> str:
    try:
        return str(json.loads(error.body or "{}").get("message", error.reason))
    except ValueError:
        return str(error.reason)
