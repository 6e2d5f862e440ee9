"""The official Kubernetes client, as every adapter that talks to the API server uses it: its
blocking calls run in a worker thread, with a timeout. Shared, so that adapters stay unaware of
each other (the import contract in pyproject.toml)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from paved.errors import PermanentError, TransientError

# (connect, read) seconds. Without them a call to an API server that stopped answering waits
# forever, and holds one of the few worker threads every blocking call shares.
REQUEST_TIMEOUT: Final = (3.0, 15.0)


async def api_call(what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """`call` in a worker thread with a timeout; an unreachable API server is a TransientError
    naming `what`, and the API's own refusals (ApiException) are the caller's to judge."""
    try:
        return await asyncio.to_thread(call, *args, _request_timeout=REQUEST_TIMEOUT, **kwargs)
    except HTTPError as error:
        raise TransientError(f"{what}: the API server did not answer: {error}") from error


def api_client(kubeconfig: str | None, connections: int = 10) -> client.ApiClient:
    """In a pod, the pod's service account; elsewhere the kubeconfig (KUBECONFIG by default).
    `connections`: as many as threads call at once, or each call beyond them opens (and
    handshakes) a connection of its own."""
    configuration = client.Configuration()
    try:
        if kubeconfig is not None:
            raise config.ConfigException("a kubeconfig was given")
        config.load_incluster_config(client_configuration=configuration)
    except config.ConfigException:
        config.load_kube_config(config_file=kubeconfig, client_configuration=configuration)
    configuration.connection_pool_maxsize = connections
    return client.ApiClient(configuration)


FIELD_MANAGER: Final = "paved"


async def get_custom_object(
    api: client.ApiClient, path: tuple[str, str, str, str, str], *, what: str
) -> dict[str, Any] | None:
    """The object at (group, version, namespace, plural, name); None when there is none."""
    try:
        found: dict[str, Any] = await api_call(
            f"reading {what}", client.CustomObjectsApi(api).get_namespaced_custom_object, *path
        )
    except ApiException as error:
        if error.status == 404:
            return None
        raise TransientError(f"reading {what}: {error.reason}") from error
    return found


async def server_side_apply(
    api: client.ApiClient, path: str, body: dict[str, Any], *, what: str
) -> None:
    """Server-side apply `body` at `path` as paved's field manager, taking over fields others set.
    The API server's refusals are PermanentErrors naming `what`; the rest are transient."""
    try:
        # The typed client has no server-side apply; the REST layer sends JSON, which is YAML.
        await api_call(
            f"applying {what}",
            api.call_api,
            path,
            "PATCH",
            query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            header_params={
                "Content-Type": "application/apply-patch+yaml",
                "Accept": "application/json",
            },
            body=body,
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
        )
    except ApiException as error:
        if error.status in (400, 403, 422):
            raise PermanentError(f"{what}: {error.body}") from error
        raise TransientError(f"{what}: {error.reason}") from error


async def api_served(api: client.ApiClient, group: str, version: str, plural: str) -> bool:
    """Whether the API server serves `plural` in `group/version` (its CRD is installed)."""
    try:
        found = await api_call(
            f"discovering {group}/{version}",
            api.call_api,
            f"/apis/{group}/{version}",
            "GET",
            header_params={"Accept": "application/json"},
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
        )
    except ApiException as error:
        if error.status == 404:
            return False
        raise TransientError(f"discovering {group}/{version}: {error.reason}") from error
    return any(r.get("name") == plural for r in (found or {}).get("resources", []))
