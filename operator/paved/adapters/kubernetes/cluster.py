"""`Cluster` over the official Kubernetes client; its blocking calls run in a worker thread."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from paved.api.crds import KINDS
from paved.api.meta import GROUP, VERSION
from paved.errors import TransientError

_PLURALS = {kind.kind: kind.plural for kind in KINDS}


def api_client(kubeconfig: str | None) -> client.ApiClient:
    """In a pod, the pod's service account; elsewhere the kubeconfig (KUBECONFIG by default)."""
    if kubeconfig is None:
        try:
            config.load_incluster_config()
            return client.ApiClient()
        except config.ConfigException:
            pass
    return config.new_client_from_config(config_file=kubeconfig)


class KubernetesCluster:
    def __init__(self, api: client.ApiClient) -> None:
        self._objects = client.CustomObjectsApi(api)

    async def get_paved(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found = await asyncio.to_thread(
                self._objects.get_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                _PLURALS[kind],
                name,
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise TransientError(f"reading {kind} {namespace}/{name}: {error.reason}") from error
        return cast(dict[str, Any], found)
