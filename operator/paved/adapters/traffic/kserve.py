"""`TrafficRouter` on KServe: one InferenceService (serving.kserve.io/v1beta1) in serverless mode,
moved as KServe's own canary rollout moves it, and the PromQL for its Knative metrics.

The arms are revisions of the predictor. A rollout sets the predictor's `storageUri` to the
candidate's model, so KServe creates a revision for it (the latest), and
`canaryTrafficPercent` to the candidate's weight: the previous rolled-out revision, the baseline,
keeps the rest. A rollback pins the latest revision to 0%; a promotion clears the canary, so the
latest revision takes all traffic and becomes the rolled-out one (the next rollout starts from
it). KServe has no mirroring, no feedback API and no header routing of its own: only the canary
split (ADR 0015).

The predictor's `storageUri` is the model's storage URI (what KServe's storage initializer
fetches); the registry version it is goes beside it, in the InferenceService's
`paved.dev/model` and `paved.dev/model-version` annotations.

The split is read back from `status.components.predictor.traffic`, by model: the latest revision
counts as the candidate only while the spec's `storageUri` is the candidate's and the status
reflects that spec (its `observedGeneration`, the latest created revision ready), so a status
KServe has not caught up on never shows the candidate serving. Metrics are Knative's queue-proxy
`revision_request_count` and `revision_request_latencies` (milliseconds), by `revision_name`.
"""

from __future__ import annotations

from typing import Any, Final, assert_never

from kubernetes import client

from paved.adapters.kubernetes_api import get_custom_object, server_side_apply
from paved.api.rollout import Backend, BuiltinGuardrail, InferenceServiceTarget
from paved.core.interleaving import Preference
from paved.core.rollout_steps import Traffic
from paved.core.serving import Arm, Capability, ServedModel
from paved.errors import PermanentError
from paved.ports.traffic import Queries

GROUP: Final = "serving.kserve.io"
VERSION: Final = "v1beta1"
PLURAL: Final = "inferenceservices"
REQUESTS: Final = "revision_request_count"
LATENCIES: Final = "revision_request_latencies"
SCORE_METRIC: Final = "paved_prediction_score"
CAPABILITIES: Final = frozenset({Capability.CANARY})


def _selector(namespace: str, revision: str, extra: str = "") -> str:
    return f'{{namespace_name="{namespace}",revision_name="{revision}"{extra}}}'


def builtin_queries(
    builtin: BuiltinGuardrail, namespace: str, service: str, revision: str, window: str
) -> Queries:
    """Revision names are unique in a namespace (`<isvc>-predictor-00002`). A request fails when
    the revision answers 5xx; Knative's latencies are in milliseconds already. Scores are
    paved's own histogram (as the local data plane exports it), by service and revision."""
    every = _selector(namespace, revision)
    samples = f"sum(increase({REQUESTS}{every}[{window}]))"
    match builtin:
        case BuiltinGuardrail.ERROR_RATE:
            errors = _selector(namespace, revision, ',response_code_class="5xx"')
            value = (
                f"(sum(rate({REQUESTS}{errors}[{window}])) or vector(0))"
                f" / sum(rate({REQUESTS}{every}[{window}]))"
            )
        case BuiltinGuardrail.LATENCY_P99:
            value = (
                f"histogram_quantile(0.99, sum by (le) (rate({LATENCIES}_bucket{every}[{window}])))"
            )
        case BuiltinGuardrail.SCORE_DRIFT:
            scores = (
                f'{{namespace="{namespace}",deployment_name="{service}",'
                f'predictor_name="{revision}"}}'
            )
            value = f"sum by (le) (increase({SCORE_METRIC}_bucket{scores}[{window}]))"
            samples = f"sum(increase({SCORE_METRIC}_count{scores}[{window}]))"
    return Queries(value, samples)


def counter_increase(metric: str, namespace: str, revision: str, seconds: int) -> str:
    """PromQL for how much a per-revision counter grew over the last `seconds`."""
    return f"sum(increase({metric}{_selector(namespace, revision)}[{max(seconds, 1)}s]))"


def _predictor_status(service: dict[str, Any]) -> dict[str, Any]:
    components = (service.get("status") or {}).get("components") or {}
    found: dict[str, Any] = components.get("predictor") or {}
    return found


def _storage_uri(service: dict[str, Any]) -> str | None:
    model = ((service.get("spec") or {}).get("predictor") or {}).get("model") or {}
    uri = model.get("storageUri")
    return str(uri) if uri else None


def split(service: dict[str, Any], candidate_model_uri: str) -> Traffic:
    """The split an InferenceService's status shows, by model (see the module's docstring)."""
    predictor = _predictor_status(service)
    entries = predictor.get("traffic") or []
    latest = sum(int(e.get("percent") or 0) for e in entries if e.get("latestRevision"))
    rest = sum(int(e.get("percent") or 0) for e in entries if not e.get("latestRevision"))
    status = service.get("status") or {}
    current = status.get("observedGeneration") == service["metadata"].get("generation") and (
        predictor.get("latestReadyRevision") == predictor.get("latestCreatedRevision")
    )
    if current and _storage_uri(service) == candidate_model_uri:
        return Traffic(rest, latest, False)
    return Traffic(rest + latest, 0, False)


def revision_of(service: dict[str, Any], arm: Arm) -> str:
    """The revision serving `arm`: the latest for the candidate, the other traffic target (or,
    with no split, the latest rolled-out revision) for the baseline."""
    predictor = _predictor_status(service)
    entries = predictor.get("traffic") or []
    match arm:
        case Arm.CANDIDATE:
            latest: dict[str, Any] = next((e for e in entries if e.get("latestRevision")), {})
            return str(latest.get("revisionName") or predictor.get("latestReadyRevision") or "")
        case Arm.BASELINE:
            previous: dict[str, Any] = next((e for e in entries if not e.get("latestRevision")), {})
            return str(
                previous.get("revisionName") or predictor.get("latestRolledoutRevision") or ""
            )
        case Arm.SHADOW:
            raise PermanentError("an InferenceService has no shadow: KServe does not mirror")
        case unreachable:
            assert_never(unreachable)


class KServeRouter:
    backend: Final = Backend.INFERENCE_SERVICE
    capabilities: Final = CAPABILITIES

    def __init__(
        self, api: client.ApiClient, namespace: str, target: InferenceServiceTarget
    ) -> None:
        self._api = api
        self._namespace = namespace
        self._name = target.name
        self._seen: dict[str, Any] | None = None  # the last read, for the arms' revisions

    @property
    def described(self) -> str:
        return f"InferenceService {self._name}"

    async def _get(self) -> dict[str, Any] | None:
        path = (GROUP, VERSION, self._namespace, PLURAL, self._name)
        found = await get_custom_object(self._api, path, what=self.described)
        if found is not None:
            self._seen = found
        return found

    async def _existing(self) -> dict[str, Any]:
        service = await self._get()
        if service is None:
            raise PermanentError(f"InferenceService {self._namespace}/{self._name} does not exist")
        if _storage_uri(service) is None:
            raise PermanentError(f"{self.described} has no spec.predictor.model.storageUri")
        return service

    async def observe(self, candidate_model_uri: str) -> Traffic | None:
        service = await self._get()
        return None if service is None else split(service, candidate_model_uri)

    async def apply(self, traffic: Traffic, candidate: ServedModel) -> None:
        if traffic.shadow:
            raise PermanentError(f"{self.described}: KServe does not mirror traffic (shadow)")
        service = await self._existing()
        if traffic.candidate == 0 and _storage_uri(service) != candidate.uri:
            return  # the candidate was never deployed: the baseline serves alone already
        await self._apply(candidate, canary=traffic.candidate)

    async def promote(self, candidate: ServedModel) -> None:
        await self._existing()
        await self._apply(candidate, canary=None)

    async def _apply(self, model: ServedModel, *, canary: int | None) -> None:
        """Server-side apply of the fields paved owns: the model (its storage URI, its registry
        version beside it) and the canary's percent. Leaving the percent out clears it (paved
        owned it), which promotes the latest revision."""
        predictor: dict[str, Any] = {"model": {"storageUri": model.uri}}
        if canary is not None:
            predictor["canaryTrafficPercent"] = canary
        metadata: dict[str, Any] = {"name": self._name, "namespace": self._namespace}
        if model.annotations():
            metadata["annotations"] = model.annotations()
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "InferenceService",
            "metadata": metadata,
            "spec": {"predictor": predictor},
        }
        path = f"/apis/{GROUP}/{VERSION}/namespaces/{self._namespace}/{PLURAL}/{self._name}"
        await server_side_apply(self._api, path, body, what=self.described)

    async def _revision(self, arm: Arm) -> str:
        service = self._seen or await self._get()
        return "" if service is None else revision_of(service, arm)

    async def guardrail_queries(self, builtin: BuiltinGuardrail, arm: Arm, window: str) -> Queries:
        revision = await self._revision(arm)
        return builtin_queries(builtin, self._namespace, self._name, revision, window)

    async def counter_increase(self, metric: str, arm: Arm, seconds: int) -> str:
        return counter_increase(metric, self._namespace, await self._revision(arm), seconds)

    async def interleaved_queries(self, preference: Preference, _seconds: int) -> str:
        # Knative routes each request to one revision: nothing merges two rankings. An
        # interleave step is refused before traffic moves (CAPABILITIES), so never asked.
        raise PermanentError(f"{self.described} cannot interleave (asked for {preference})")
