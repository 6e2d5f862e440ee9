"""What a ModelMonitor asks of the API server. Create a ModelVersion, as a person's `kubectl
create` would: its admission policies record the operator's account as the author, so the person
who signs the version off is someone else (four eyes), and a PromotionPolicy judges its spec.
Ask a Rollout to revert, as `paved model revert` does: its annotation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved.adapters.kubernetes_api import api_call
from paved.api.meta import API_VERSION, GROUP, VERSION
from paved.api.model_version import ModelVersionSpec
from paved.core.rollout_ticks import Request
from paved.errors import PermanentError, TransientError


class KubernetesModelVersions:
    """`ModelVersionCreator` over the API server."""

    def __init__(self, api: client.ApiClient) -> None:
        self._objects = client.CustomObjectsApi(api)

    async def create(
        self,
        namespace: str,
        name: str,
        spec: ModelVersionSpec,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> bool:
        body: dict[str, Any] = {
            "apiVersion": API_VERSION,
            "kind": "ModelVersion",
            "metadata": {
                "name": name,
                "labels": dict(labels),
                "annotations": dict(annotations),
            },
            "spec": spec.model_dump(by_alias=True, mode="json", exclude_none=True),
        }
        what = f"ModelVersion {namespace}/{name}"
        create = self._objects.create_namespaced_custom_object
        try:
            await api_call(
                f"creating {what}", create, GROUP, VERSION, namespace, "modelversions", body
            )
        except ApiException as error:
            if error.status == 409:
                return False
            if error.status in (400, 403, 422):
                raise PermanentError(f"{what}: {error.body}") from error
            raise TransientError(f"creating {what}: {error.reason}") from error
        return True


class KubernetesReverts:
    """`RolloutReverter` over the API server."""

    def __init__(self, api: client.ApiClient) -> None:
        self._objects = client.CustomObjectsApi(api)

    async def request_revert(self, namespace: str, rollout: str, reason: str) -> None:
        patch = {"metadata": {"annotations": {Request.REVERT.value: reason}}}
        what = f"Rollout {namespace}/{rollout}"
        annotate = self._objects.patch_namespaced_custom_object
        try:
            await api_call(
                f"asking {what} to revert",
                annotate,
                GROUP,
                VERSION,
                namespace,
                "rollouts",
                rollout,
                patch,
            )
        except ApiException as error:
            if error.status in (400, 403, 404, 422):
                raise PermanentError(f"{what}: {error.body}") from error
            raise TransientError(f"asking {what} to revert: {error.reason}") from error
