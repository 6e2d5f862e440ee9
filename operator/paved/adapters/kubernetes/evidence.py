"""Read a served model's evidence from the cluster, live, as the caller's credentials allow: the
serving object's arms, the Rollouts that brought the model there, its ModelVersion (with the
authors the API server recorded) and its FeatureViews. The registry's part is read by the
caller through the registry port; `core.lineage` assembles the chain.

Also `request_revert`: find the Rollout that promoted a model's production version and ask it
to revert (the `paved.dev/revert` annotation), then wait for the operator's answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus
from paved.api.model_version import ModelVersionSpec, ModelVersionStatus, Stage
from paved.api.policies import CREATED_BY, SPEC_CHANGED_BY
from paved.api.rollout import RolloutPhase, RolloutStatus
from paved.core.lineage import (
    Arm,
    FeatureViewFacts,
    ModelVersionFacts,
    RolloutFacts,
    ServingFacts,
    SubjectKind,
)
from paved.core.promotion_policy import Authors
from paved.core.rollout_ticks import Request
from paved.core.serving import served_version
from paved.errors import PermanentError

GROUP, VERSION = "paved.dev", "v1alpha1"
_SERVING: Final = {
    SubjectKind.SELDON_DEPLOYMENT: ("machinelearning.seldon.io", "v1", "seldondeployments"),
    SubjectKind.INFERENCE_SERVICE: ("serving.kserve.io", "v1beta1", "inferenceservices"),
}
_TARGET_KEYS: Final = {
    SubjectKind.SELDON_DEPLOYMENT: "seldonDeployment",
    SubjectKind.INFERENCE_SERVICE: "inferenceService",
}


@dataclass(frozen=True)
class ClusterEvidence:
    serving: ServingFacts | None
    served_uri: str | None  # the model the chain follows: the baseline's storage URI
    served_version: tuple[str, str] | None  # its registry (model, version), named beside it
    rollouts: list[RolloutFacts]
    model_version: ModelVersionFacts | None
    feature_views: dict[str, FeatureViewFacts | None]
    reverts: list[RolloutFacts] = field(default_factory=list)  # on the target, carried out


@dataclass(frozen=True)
class _Served:
    uri: str | None
    version: tuple[str, str] | None


class Reader:
    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self._objects = client.CustomObjectsApi(api)
        self._namespace = namespace

    def _get(self, group: str, version: str, plural: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._objects.get_namespaced_custom_object(
                group, version, self._namespace, plural, name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise PermanentError(f"reading {plural}/{name}: {error.reason}") from error
        return found

    def objects_of(self, plural: str) -> list[dict[str, Any]]:
        found = self._objects.list_namespaced_custom_object(GROUP, VERSION, self._namespace, plural)
        items: list[dict[str, Any]] = found.get("items", [])
        return sorted(items, key=lambda o: o["metadata"].get("creationTimestamp", ""))

    def evidence(self, kind: SubjectKind, name: str) -> ClusterEvidence:
        if kind is SubjectKind.MODEL_VERSION:
            body = self._get(GROUP, VERSION, "modelversions", name)
            if body is None:
                raise PermanentError(f"ModelVersion {self._namespace}/{name} not found")
            rollouts = [r for r in self.objects_of("rollouts") if r["spec"]["candidate"] == name]
            serving = self._target_of(rollouts[-1]) if rollouts else None
            entry = (body.get("status") or {}).get("registry") or {}
            return self._rest(serving, _Served(entry.get("uri"), None), body, rollouts)
        serving = self._serving(kind, name)
        if serving is None:
            raise PermanentError(f"{kind.value} {self._namespace}/{name} not found")
        top = max(serving.arms, key=lambda a: a.weight) if serving.arms else None
        served = _Served(top.model_uri, top.registered) if top else _Served(None, None)
        body = self._model_version_serving(served)
        key = _TARGET_KEYS[kind]
        on_target = [
            r
            for r in self.objects_of("rollouts")
            if (r["spec"]["target"].get(key) or {}).get("name") == name
        ]
        rollouts = [
            r
            for r in on_target
            if body is None or r["spec"]["candidate"] == body["metadata"]["name"]
        ]
        found = self._rest(serving, served, body, rollouts)
        return replace(found, reverts=[_rollout(r) for r in on_target if _reverted(r)])

    def _rest(
        self,
        serving: ServingFacts | None,
        served: _Served,
        body: dict[str, Any] | None,
        rollouts: list[dict[str, Any]],
    ) -> ClusterEvidence:
        mv = _model_version(body) if body is not None else None
        views: dict[str, FeatureViewFacts | None] = {}
        lineage = mv.status.lineage if mv else None
        predictions = {u.batch_prediction for u in lineage.upstream_models} if lineage else set()
        for fv in lineage.feature_views if lineage else []:
            if fv.name not in predictions:  # a hybrid's BatchPrediction is no FeatureView
                views[fv.name] = self._feature_view(fv.name)
        runs = [_rollout(r) for r in rollouts]
        return ClusterEvidence(serving, served.uri, served.version, runs, mv, views)

    def _serving(self, kind: SubjectKind, name: str) -> ServingFacts | None:
        body = self._get(*_SERVING[kind], name)
        if body is None:
            return None
        return ServingFacts(f"{kind.value} {self._namespace}/{name}", _arms(kind, body))

    def _target_of(self, rollout: dict[str, Any]) -> ServingFacts | None:
        target = rollout["spec"]["target"]
        for kind, key in _TARGET_KEYS.items():
            if key in target:
                return self._serving(kind, target[key]["name"])
        return None

    def _model_version_serving(self, served: _Served) -> dict[str, Any] | None:
        """The ModelVersion of the registry version the serving object names; one that names
        none (not put there by paved) is matched by its storage URI."""

        def serves(mv: dict[str, Any]) -> bool:
            entry = (mv.get("status") or {}).get("registry") or {}
            if served.version is not None:
                return (entry.get("name"), entry.get("version")) == served.version
            return served.uri is not None and entry.get("uri") == served.uri

        found = [mv for mv in self.objects_of("modelversions") if serves(mv)]
        return found[-1] if found else None

    def _feature_view(self, name: str) -> FeatureViewFacts | None:
        body = self._get(GROUP, VERSION, "featureviews", name)
        if body is None:
            return None
        status = FeatureViewStatus.model_validate(body.get("status") or {})
        return FeatureViewFacts(FeatureViewSpec.model_validate(body["spec"]), status)


def _arms(kind: SubjectKind, body: dict[str, Any]) -> list[Arm]:
    """Each arm's storage URI, weight and the registry version annotated beside the URI."""
    spec = body["spec"]
    if kind is SubjectKind.SELDON_DEPLOYMENT:
        return [
            Arm(
                p["name"],
                (p.get("graph") or {}).get("modelUri", ""),
                int(p.get("traffic", 0)),
                served_version(p.get("annotations")),
            )
            for p in spec.get("predictors", [])
            if not p.get("shadow")
        ]
    predictor = spec.get("predictor") or {}
    uri = (predictor.get("model") or {}).get("storageUri", "")
    weight = int(predictor.get("canaryTrafficPercent", 100))
    return [Arm("latest", uri, weight, served_version(body["metadata"].get("annotations")))]


def _model_version(body: dict[str, Any]) -> ModelVersionFacts:
    annotations = body["metadata"].get("annotations") or {}
    return ModelVersionFacts(
        body["metadata"]["name"],
        ModelVersionSpec.model_validate(body["spec"]),
        ModelVersionStatus.model_validate(body.get("status") or {}),
        Authors(annotations.get(CREATED_BY), annotations.get(SPEC_CHANGED_BY)),
    )


def _reverted(body: dict[str, Any]) -> bool:
    """A Rollout that carried a revert out: its candidate went, what it replaced came back."""
    status = body.get("status") or {}
    return bool(status.get("reverted")) and status.get("phase") == RolloutPhase.ROLLED_BACK


def _rollout(body: dict[str, Any]) -> RolloutFacts:
    status = RolloutStatus.model_validate(body.get("status") or {})
    return RolloutFacts(body["metadata"]["name"], body["spec"]["candidate"], status)


@dataclass(frozen=True)
class RevertAnswer:
    rollout: str
    reverted: bool  # False: refused, and `message` says why
    message: str
    seconds: float  # from the request to the operator's answer (traffic and registry done)


def request_revert(
    api: client.ApiClient,
    namespace: str,
    model: str,
    *,
    reason: str,
    stamp: str,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
) -> RevertAnswer:
    """Ask the Rollout that promoted `model`'s production version to revert, and wait for it."""
    try:
        return _wait(api, namespace, model, f"{reason} (requested {stamp})", timeout, clock)
    except ApiException as error:
        raise PermanentError(f"the API server refused: {error.reason}") from error


def _wait(
    api: client.ApiClient,
    namespace: str,
    model: str,
    value: str,
    timeout: float,
    clock: Callable[[], float],
) -> RevertAnswer:
    started = clock()
    rollout = _promoting_rollout(api, namespace, model)
    objects = client.CustomObjectsApi(api)
    patch = {"metadata": {"annotations": {Request.REVERT.value: value}}}
    objects.patch_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", rollout, patch)
    while clock() - started < timeout:
        found = objects.get_namespaced_custom_object(GROUP, VERSION, namespace, "rollouts", rollout)
        status = RolloutStatus.model_validate(found.get("status") or {})
        if status.reverted == value:
            done = status.phase is RolloutPhase.ROLLED_BACK
            return RevertAnswer(rollout, done, status.message or "", clock() - started)
        time.sleep(0.2)
    raise PermanentError(f"Rollout {rollout} did not answer the revert within {timeout:.0f}s")


def _promoting_rollout(api: client.ApiClient, namespace: str, model: str) -> str:
    """The Succeeded Rollout whose candidate is `model`'s production ModelVersion (the latest)."""
    reader = Reader(api, namespace)
    production = [
        mv["metadata"]["name"]
        for mv in reader.objects_of("modelversions")
        if mv["spec"]["model"] == model
        and (mv.get("status") or {}).get("stage") == Stage.PRODUCTION
    ]
    if not production:
        raise PermanentError(f"no ModelVersion of model {model} in {namespace} is production")
    rollouts = [
        r["metadata"]["name"]
        for r in reader.objects_of("rollouts")
        if r["spec"]["candidate"] in production
        and (r.get("status") or {}).get("phase") == RolloutPhase.SUCCEEDED
    ]
    if not rollouts:
        raise PermanentError(
            f"no Succeeded Rollout promoted {', '.join(production)}: nothing to revert"
        )
    return str(rollouts[-1])
