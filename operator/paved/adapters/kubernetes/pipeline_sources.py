"""A team's compiled pipeline, read from a ConfigMap of the ModelVersion's namespace as text.

The operator never imports or runs it: the text goes to the core's contract check, then to the
runner (ADR 0037).
"""

from __future__ import annotations

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved.adapters.kubernetes_api import api_call
from paved.errors import PermanentError, TransientError
from paved.ports.pipelines import PipelineMissing, PipelineText

_NOT_FOUND = 404


class ConfigMapPipelines:
    """`PipelineSources` over the API server."""

    def __init__(self, api: client.ApiClient) -> None:
        self._core = client.CoreV1Api(api)

    async def compiled(
        self, namespace: str, config_map: str, key: str
    ) -> PipelineText | PipelineMissing:
        source = f"ConfigMap {config_map} key {key}"
        read = self._core.read_namespaced_config_map
        try:
            found = await api_call(f"reading {source}", read, config_map, namespace)
        except ApiException as error:
            if error.status == _NOT_FOUND:
                return PipelineMissing(source, f"no ConfigMap {config_map} in {namespace}")
            if error.status == 403:
                raise PermanentError(
                    f"reading {source}: the operator may not read ConfigMaps in {namespace}"
                    " (the chart's `pipelines` role grants it)"
                ) from error
            raise TransientError(f"reading {source}: {error.reason}") from error
        data = found.data or {}
        if key not in data:
            keys = ", ".join(sorted(data)) or "none"
            return PipelineMissing(
                source, f"ConfigMap {config_map} has no key {key} (its keys: {keys})"
            )
        return PipelineText(source, str(data[key]))
