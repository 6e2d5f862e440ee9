"""`TrafficRouter` on Seldon Core v1: the predictors of one SeldonDeployment, by server-side apply,
and the PromQL for Seldon's executor metrics (its metric observer).

Seldon's `predictors` is an atomic list, so paved applies the whole list: the baseline as it is
(traffic changed), the candidate as a copy of the baseline's graph serving the candidate model,
and a `shadow: true` copy while shadowing. Seldon's rules hold: non-shadow traffic sums to 100,
at most one shadow. A predictor paved does not need is left out (rollback removes them).

Each predictor paved writes holds the model's storage URI in `graph.modelUri` (what Seldon's
storage initializer fetches) and the registry version beside it, in the predictor's
`paved.dev/model` and `paved.dev/model-version` annotations.

Promotion hands the baseline predictor the candidate's model with all traffic, so the next
rollout starts from it. Traffic is read back by model, not by predictor name: a promoted
deployment shows the candidate at 100% whichever predictor serves it, so a promotion repeated
after a crash finds its work done.

The arms are predictors: the baseline's, the candidate's, the shadow's, named in the Rollout's
target. Built-in guardrails read Seldon Core v1's executor histogram, split by `predictor_name`,
so the same queries work on a cluster and on the local data plane; REST ("200") and gRPC ("OK")
both count as success.
"""

from __future__ import annotations

import copy
from typing import Any, Final, assert_never

from kubernetes import client

from paved.adapters.kubernetes_api import get_custom_object, server_side_apply
from paved.api.rollout import Backend, BuiltinGuardrail, SeldonDeploymentTarget
from paved.core.interleaving import Preference
from paved.core.rollout_steps import Traffic
from paved.core.serving import (
    INTERLEAVE_ANNOTATION,
    MODEL_ANNOTATION,
    MODEL_VERSION_ANNOTATION,
    Arm,
    Capability,
    ServedModel,
)
from paved.errors import PermanentError
from paved.ports.traffic import Queries

GROUP: Final = "machinelearning.seldon.io"
VERSION: Final = "v1"
PLURAL: Final = "seldondeployments"
EXECUTOR_METRIC: Final = "seldon_api_executor_server_requests_seconds"
SCORE_METRIC: Final = "paved_prediction_score"
INTERLEAVED_METRIC: Final = "paved_interleaved_queries_total"
# Interleaving is paved's data plane's, the executor in front of the predictors here (ADR 0006):
# Seldon Core's own executor routes each request to one predictor.
CAPABILITIES: Final = frozenset(
    {Capability.SHADOW, Capability.CANARY, Capability.PER_ARM_FEEDBACK, Capability.INTERLEAVE}
)


def _selector(namespace: str, deployment: str, predictor: str, errors_only: bool = False) -> str:
    code = ',code!~"200|OK"' if errors_only else ""
    return (
        f'{{namespace="{namespace}",deployment_name="{deployment}",predictor_name="{predictor}",'
        f'service="predictions"{code}}}'
    )


def builtin_queries(
    builtin: BuiltinGuardrail, namespace: str, deployment: str, predictor: str, window: str
) -> Queries:
    """Deployment names are per namespace: the `namespace` label a cluster's scrape adds (and
    the local data plane exports) keeps two namespaces' `churn` apart."""
    every = _selector(namespace, deployment, predictor)
    samples = f"sum(increase({EXECUTOR_METRIC}_count{every}[{window}]))"
    match builtin:
        case BuiltinGuardrail.ERROR_RATE:
            errors = _selector(namespace, deployment, predictor, errors_only=True)
            value = (
                f"(sum(rate({EXECUTOR_METRIC}_count{errors}[{window}])) or vector(0))"
                f" / sum(rate({EXECUTOR_METRIC}_count{every}[{window}]))"
            )
        case BuiltinGuardrail.LATENCY_P99:
            value = (
                f"histogram_quantile(0.99, sum by (le) "
                f"(rate({EXECUTOR_METRIC}_bucket{every}[{window}]))) * 1000"
            )
        case BuiltinGuardrail.SCORE_DRIFT:
            scores = (
                f'{{namespace="{namespace}",deployment_name="{deployment}",'
                f'predictor_name="{predictor}"}}'
            )
            # One value per bucket (`le`): the caller compares two histograms, not two numbers.
            value = f"sum by (le) (increase({SCORE_METRIC}_bucket{scores}[{window}]))"
            samples = f"sum(increase({SCORE_METRIC}_count{scores}[{window}]))"
    return Queries(value, samples)


def counter_increase(
    metric: str, namespace: str, deployment: str, predictor: str, seconds: int
) -> str:
    """PromQL for how much a per-predictor counter grew over the last `seconds`."""
    selector = (
        f'namespace="{namespace}",deployment_name="{deployment}",predictor_name="{predictor}"'
    )
    return f"sum(increase({metric}{{{selector}}}[{max(seconds, 1)}s]))"


def interleaved_queries(
    preference: Preference, namespace: str, deployment: str, candidate: str, seconds: int
) -> str:
    """PromQL for the interleaved queries the candidate predictor won, lost or tied over the
    last `seconds` (the data plane's counter, by `outcome`)."""
    selector = (
        f'namespace="{namespace}",deployment_name="{deployment}",predictor_name="{candidate}",'
        f'outcome="{preference}"'
    )
    return f"sum(increase({INTERLEAVED_METRIC}{{{selector}}}[{max(seconds, 1)}s]))"


def _with_model(predictor: dict[str, Any], name: str, model: ServedModel) -> dict[str, Any]:
    copied = copy.deepcopy(predictor)
    copied["name"] = name
    graph = copied.get("graph") or {}
    graph["modelUri"] = model.uri
    copied["graph"] = graph
    # The baseline's registry version must not stay beside another model's URI.
    annotations = {
        k: v
        for k, v in (copied.get("annotations") or {}).items()
        if k not in (MODEL_ANNOTATION, MODEL_VERSION_ANNOTATION)
    }
    annotations.update(model.annotations())
    if annotations:
        copied["annotations"] = annotations
    else:
        copied.pop("annotations", None)
    return copied


class SeldonV1Router:
    backend: Final = Backend.SELDON_DEPLOYMENT
    capabilities: Final = CAPABILITIES

    def __init__(
        self, api: client.ApiClient, namespace: str, target: SeldonDeploymentTarget
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._target = target
        self._deployment = target.name

    @property
    def described(self) -> str:
        return f"SeldonDeployment {self._deployment}"

    def _predictor(self, arm: Arm) -> str:
        match arm:
            case Arm.BASELINE:
                return self._target.baseline_predictor
            case Arm.CANDIDATE:
                return self._target.candidate_predictor
            case Arm.SHADOW:
                return self._target.shadow_predictor
            case unreachable:
                assert_never(unreachable)

    async def guardrail_queries(self, builtin: BuiltinGuardrail, arm: Arm, window: str) -> Queries:
        return builtin_queries(
            builtin, self._namespace, self._deployment, self._predictor(arm), window
        )

    async def counter_increase(self, metric: str, arm: Arm, seconds: int) -> str:
        return counter_increase(
            metric, self._namespace, self._deployment, self._predictor(arm), seconds
        )

    async def interleaved_queries(self, preference: Preference, seconds: int) -> str:
        return interleaved_queries(
            preference, self._namespace, self._deployment, self._target.candidate_predictor, seconds
        )

    async def _get(self) -> dict[str, Any] | None:
        path = (GROUP, VERSION, self._namespace, PLURAL, self._deployment)
        return await get_custom_object(self._api, path, what=self.described)

    async def _predictors(self) -> list[dict[str, Any]]:
        deployment = await self._get()
        if deployment is None:
            raise PermanentError(
                f"SeldonDeployment {self._namespace}/{self._deployment} does not exist"
            )
        predictors: list[dict[str, Any]] = deployment["spec"].get("predictors", [])
        return predictors

    def _baseline(self, predictors: list[dict[str, Any]]) -> dict[str, Any]:
        name = self._target.baseline_predictor
        baseline = next((p for p in predictors if p["name"] == name), None)
        if baseline is None:
            names = ", ".join(p["name"] for p in predictors) or "none"
            raise PermanentError(
                f"SeldonDeployment {self._deployment} has no predictor {name!r} (it has: {names})"
            )
        return baseline

    async def apply(self, traffic: Traffic, candidate: ServedModel) -> None:
        baseline = self._baseline(await self._predictors())
        wanted = [{**baseline, "traffic": traffic.baseline}]
        if traffic.candidate > 0:
            serving = _with_model(baseline, self._target.candidate_predictor, candidate)
            wanted.append({**serving, "traffic": traffic.candidate, "shadow": False})
        if traffic.shadow:
            shadow = _with_model(baseline, self._target.shadow_predictor, candidate)
            wanted.append({**shadow, "traffic": 100, "shadow": True})
        interleave = self._target.candidate_predictor if traffic.interleaved else None
        await self._apply(wanted, interleave=interleave)

    async def promote(self, candidate: ServedModel) -> None:
        baseline = self._baseline(await self._predictors())
        promoted = _with_model(baseline, self._target.baseline_predictor, candidate)
        await self._apply([{**promoted, "traffic": 100, "shadow": False}])

    async def _apply(
        self, predictors: list[dict[str, Any]], *, interleave: str | None = None
    ) -> None:
        """Apply the predictors, and the interleave annotation while a step asks for it: left
        out, server-side apply removes the one this manager set before."""
        spec: dict[str, Any] = {"predictors": predictors}
        if interleave is not None:
            spec["annotations"] = {INTERLEAVE_ANNOTATION: interleave}
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "SeldonDeployment",
            "metadata": {"name": self._deployment, "namespace": self._namespace},
            "spec": spec,
        }
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{self._namespace}/{PLURAL}/{self._deployment}"
        await server_side_apply(self._api, path, body, what=self.described)

    async def observe(self, candidate_model_uri: str) -> Traffic | None:
        deployment = await self._get()
        if deployment is None:
            return None
        predictors = deployment["spec"].get("predictors", [])
        ours = (self._target.baseline_predictor, self._target.candidate_predictor)
        live = [p for p in predictors if p["name"] in ours and not p.get("shadow", False)]

        def serves_candidate(predictor: dict[str, Any]) -> bool:
            return bool((predictor.get("graph") or {}).get("modelUri") == candidate_model_uri)

        candidate = sum(int(p.get("traffic", 0)) for p in live if serves_candidate(p))
        baseline = sum(int(p.get("traffic", 0)) for p in live if not serves_candidate(p))
        shadow = any(
            p["name"] == self._target.shadow_predictor and p.get("shadow", False)
            for p in predictors
        )
        annotations = deployment["spec"].get("annotations") or {}
        interleaved = annotations.get(INTERLEAVE_ANNOTATION) == self._target.candidate_predictor
        return Traffic(baseline, candidate, shadow, interleaved=interleaved and candidate > 0)
