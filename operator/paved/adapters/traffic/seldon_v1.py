"""`TrafficRouter` on Seldon Core v1: the predictors of one SeldonDeployment, by server-side apply.

Seldon's `predictors` is an atomic list, so paved applies the whole list: the baseline as it is
(traffic changed), the candidate as a copy of the baseline's graph serving the candidate model,
and a `shadow: true` copy while shadowing. Seldon's rules hold: non-shadow traffic sums to 100,
at most one shadow. A predictor paved does not need is left out (rollback removes them).

Promotion hands the baseline predictor the candidate's model with all traffic, so the next
rollout starts from it. Traffic is read back by model, not by predictor name: a promoted
deployment shows the candidate at 100% whichever predictor serves it, so a promotion repeated
after a crash finds its work done.
"""

from __future__ import annotations

import copy
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved.adapters.kubernetes_api import api_call
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
            found: dict[str, Any] = await api_call(
                f"reading SeldonDeployment {route.deployment}",
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

    async def _predictors(self, route: Route) -> list[dict[str, Any]]:
        deployment = await self._get(route)
        if deployment is None:
            raise PermanentError(
                f"SeldonDeployment {route.namespace}/{route.deployment} does not exist"
            )
        predictors: list[dict[str, Any]] = deployment["spec"].get("predictors", [])
        return predictors

    def _baseline(self, route: Route, predictors: list[dict[str, Any]]) -> dict[str, Any]:
        baseline = next((p for p in predictors if p["name"] == route.baseline), None)
        if baseline is None:
            names = ", ".join(p["name"] for p in predictors) or "none"
            raise PermanentError(
                f"SeldonDeployment {route.deployment} has no predictor {route.baseline!r} "
                f"(it has: {names})"
            )
        return baseline

    async def apply(self, route: Route, traffic: Traffic, candidate_model_uri: str) -> None:
        baseline = self._baseline(route, await self._predictors(route))
        wanted = [{**baseline, "traffic": traffic.baseline}]
        if traffic.candidate > 0:
            candidate = _with_model(baseline, route.candidate, candidate_model_uri)
            wanted.append({**candidate, "traffic": traffic.candidate, "shadow": False})
        if traffic.shadow:
            shadow = _with_model(baseline, route.shadow, candidate_model_uri)
            wanted.append({**shadow, "traffic": 100, "shadow": True})
        await self._apply(route, wanted)

    async def promote(self, route: Route, candidate_model_uri: str) -> None:
        baseline = self._baseline(route, await self._predictors(route))
        promoted = _with_model(baseline, route.baseline, candidate_model_uri)
        await self._apply(route, [{**promoted, "traffic": 100, "shadow": False}])

    async def _apply(self, route: Route, predictors: list[dict[str, Any]]) -> None:
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SeldonDeployment",
            "metadata": {"name": route.deployment, "namespace": route.namespace},
            "spec": {"predictors": predictors},
        }
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{route.namespace}/{PLURAL}/{route.deployment}"
        try:
            # The typed client has no server-side apply; the REST layer sends JSON, which is YAML.
            await api_call(
                f"applying SeldonDeployment {route.deployment}", self._api.call_api, path, "PATCH",
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

    async def observe(self, route: Route, candidate_model_uri: str) -> Traffic | None:
        deployment = await self._get(route)
        if deployment is None:
            return None
        ours = (route.baseline, route.candidate)
        live = [
            p for p in deployment["spec"].get("predictors", [])
            if p["name"] in ours and not p.get("shadow", False)
        ]  # fmt: skip

        def serves_candidate(predictor: dict[str, Any]) -> bool:
            return bool((predictor.get("graph") or {}).get("modelUri") == candidate_model_uri)

        candidate = sum(int(p.get("traffic", 0)) for p in live if serves_candidate(p))
        baseline = sum(int(p.get("traffic", 0)) for p in live if not serves_candidate(p))
        shadow = any(
            p["name"] == route.shadow and p.get("shadow", False)
            for p in deployment["spec"].get("predictors", [])
        )
        return Traffic(baseline, candidate, shadow)
