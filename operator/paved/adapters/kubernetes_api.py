"""The official Kubernetes client, as every adapter that talks to the API server uses it: its
blocking calls run in a worker thread, with a timeout. Shared, so that adapters stay unaware of
each other (the import contract in pyproject.toml)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

from kubernetes import client, config
from urllib3.exceptions import HTTPError

from paved.errors import TransientError

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
