"""`TrafficRouter` on Seldon Core v1: the predictors of one SeldonDeployment, by server-side apply.

Seldon's `predictors` is an atomic list, so paved applies the whole list: the baseline as it is
(traffic changed), the candidate as a copy of the baseline's graph serving the candidate model,
and a `shadow: true` copy while shadowing. Seldon's rules hold: non-shadow traffic sums to 100,
at most one shadow. A predictor paved does not need is left out (rollback removes them).
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved.core.rollout_steps import Traffic
from paved.errors import PermanentError, TransientError
from paved.ports.traffic import Route

GROUP: Final = "machinelearning.seldon.io"
VERSION: Final = "v1"
PLURAL: Final = "seldondeployments"
FIELD_MANAGER: Final = "paved"


def _with_model(predictor: dict[str, Any], name: str, model_uri: str) -> dict[str, Any]:
    copied = copy.deepcopy(predictor)
    copied["name"] = name
    graph = copied.get("graph") or {}
    graph["modelUri"] = model_uri
    copied["graph"] = graph
    return copied


class SeldonV1Router:
    def __init__(self, api: client.ApiClient) -> None:
        self._api = api
        self._objects = client.CustomObjectsApi(api)

    async def _get(self, route: Route) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = await asyncio.to_thread(
                self._objects.get_namespaced_custom_object,
                GROUP, VERSION, route.namespace, PLURAL, route.deployment,
            )  # fmt: skip
        except ApiException as error:
            if error.status == 404:
                return None
            raise TransientError(
                f"reading SeldonDeployment {route.deployment}: {error.reason}"
            ) from error
        return found

    async def apply(self, route: Route, traffic: Traffic, candidate_model_uri: str) -> None:
        deployment = await self._get(route)
        if deployment is None:
            raise PermanentError(
                f"SeldonDeployment {route.namespace}/{route.deployment} does not exist"
            )
        predictors = {p["name"]: p for p in deployment["spec"].get("predictors", [])}
        baseline = predictors.get(route.baseline)
        if baseline is None:
            raise PermanentError(
                f"SeldonDeployment {route.deployment} has no predictor {route.baseline!r} "
                f"(it has: {', '.join(predictors) or 'none'})"
            )
        wanted = [{**baseline, "traffic": traffic.baseline}]
        if traffic.candidate > 0:
            candidate = _with_model(baseline, route.candidate, candidate_model_uri)
            wanted.append({**candidate, "traffic": traffic.candidate, "shadow": False})
        if traffic.shadow:
            shadow = _with_model(baseline, route.shadow, candidate_model_uri)
            wanted.append({**shadow, "traffic": 100, "shadow": True})
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SeldonDeployment",
            "metadata": {"name": route.deployment, "namespace": route.namespace},
            "spec": {"predictors": wanted},
        }
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{route.namespace}/{PLURAL}/{route.deployment}"
        try:
            # The typed client has no server-side apply; the REST layer sends JSON, which is YAML.
            await asyncio.to_thread(
                self._api.call_api, path, "PATCH",
                query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
                header_params={"Content-Type": "application/apply-patch+yaml",
                               "Accept": "application/json"},
                body=body, auth_settings=["BearerToken"],
                response_type="object", _return_http_data_only=True,
            )  # fmt: skip
        except ApiException as error:
            if error.status in (400, 403, 422):
                raise PermanentError(
                    f"SeldonDeployment {route.deployment}: {error.body}"
                ) from error
            raise TransientError(f"SeldonDeployment {route.deployment}: {error.reason}") from error

    async def observe(self, route: Route) -> Traffic | None:
        deployment = await self._get(route)
        if deployment is None:
            return None
        predictors = {p["name"]: p for p in deployment["spec"].get("predictors", [])}
        baseline = predictors.get(route.baseline, {}).get("traffic", 0)
        candidate_predictor = predictors.get(route.candidate)
        candidate = candidate_predictor.get("traffic", 0) if candidate_predictor else 0
        shadow = bool(predictors.get(route.shadow, {}).get("shadow", False))
        return Traffic(int(baseline), int(candidate), shadow)
