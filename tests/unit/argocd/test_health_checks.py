"""Argo CD's view of paved: the Lua health checks, and the manifests that install them.

The scripts run in Lua 5.1, the language of the gopher-lua interpreter inside Argo CD. Statuses
are built from the API models and the core's condition functions, so a test sees what the
operator writes rather than a hand-made imitation of it.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from lupa.lua51 import LuaRuntime

from paved.api.batch_prediction import BatchPredictionStatus
from paved.api.feature_view import FeatureViewStatus
from paved.api.meta import API_VERSION, Status
from paved.api.model_version import Approval, ModelVersionStatus
from paved.api.model_version import ModelVersionPhase as ModelPhase
from paved.api.rollout import GuardrailResult, RolloutPhase, RolloutStatus, TrafficSplit
from paved.core.conditions import Observation, report
from paved.core.freshness import FeatureLag, fresh_condition
from paved.core.gates import GateVerdict, Verdict
from paved.core.model_versions import TRAINED, gates_condition
from paved.core.promotion_policy import Authors, sign_off_verdict
from paved.core.reasons import RolloutReason
from paved.core.references import Reference, acceptance, invalid_spec

ROOT = Path(__file__).resolve().parents[3]
ARGOCD = ROOT / "deploy" / "argocd"
KINDS = ("FeatureView", "ModelVersion", "Rollout", "BatchPrediction")
NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
ACCEPTED = acceptance([], "churn")

# Written by the controllers, which import kopf; unit tests stay clear of that.
READY = "Ready"
PROGRESSING = "Progressing"
ROLLBACK_ANNOTATION = "paved.dev/rollback"

S = TypeVar("S", bound=Status)


@functools.cache
def _script(kind: str) -> str:
    return (ARGOCD / "health" / f"paved.dev_{kind}.lua").read_text()


def health(body: dict[str, Any]) -> tuple[str, str]:
    """What Argo CD shows for `body`: the script's hs.status and hs.message."""
    lua = LuaRuntime()
    lua.globals()["obj"] = lua.table_from(body, recursive=True)
    hs = lua.execute(_script(body["kind"]))
    return hs["status"], hs["message"]


def resource(
    kind: str,
    status: Status | None,
    *,
    generation: int = 1,
    annotations: dict[str, str] | None = None,
    spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The object as Argo CD reads it from the API server; the status as the operator wrote it."""
    metadata: dict[str, Any] = {"name": "churn-v1", "namespace": "churn", "generation": generation}
    if annotations:
        metadata["annotations"] = annotations
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": metadata,
        "spec": spec or {},
    }
    if status is not None:
        body["status"] = status.model_dump(by_alias=True, mode="json", exclude_none=True)
    return body


def observed(status: S, *observations: Observation, generation: int = 1) -> S:
    return report(status, observations, generation=generation, now=NOW)


def rollout(
    phase: RolloutPhase, message: str, *conditions: Observation, **fields: Any
) -> RolloutStatus:
    return observed(RolloutStatus(phase=phase, message=message, **fields), ACCEPTED, *conditions)


def model_version(phase: ModelPhase, *conditions: Observation, **fields: Any) -> ModelVersionStatus:
    return observed(ModelVersionStatus(phase=phase, **fields), ACCEPTED, *conditions)


BREACH = GuardrailResult(
    guardrail="errorRate", verdict="breach", at=NOW, message="errorRate 0.031 > 0.01"
)
ROLLED_BACK = Observation(
    PROGRESSING,
    "False",
    "GuardrailBreached",
    "errorRate 0.031 > 0.01 (breach 2 > failure limit 1)",
)
STALE = fresh_condition(
    [
        FeatureLag("clicks_7d", 900.0, 600.0, ok=False),
        FeatureLag("country", 900.0, 86400.0, ok=True),
    ]
)
MATERIALIZED = Observation(READY, "True", "Materialized", "Version abc online; 10 of 10 rows.")
SCORED = Observation(READY, "True", "Scored", "Serving 600 predictions of ml.churn version 1.")


# -- every kind -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_an_object_the_operator_has_not_reported_on_is_progressing(kind: str) -> None:
    assert health(resource(kind, None))[0] == "Progressing"


@pytest.mark.parametrize(
    ("kind", "status"),
    [
        ("FeatureView", observed(FeatureViewStatus(), ACCEPTED, MATERIALIZED)),
        ("ModelVersion", model_version(ModelPhase.PRODUCTION)),
        ("Rollout", rollout(RolloutPhase.SUCCEEDED, "The candidate takes all traffic.")),
        ("BatchPrediction", observed(BatchPredictionStatus(), ACCEPTED, SCORED)),
    ],
    ids=KINDS,
)
def test_a_status_of_an_older_generation_is_progressing(kind: str, status: Status) -> None:
    assert health(resource(kind, status, generation=3)) == (
        "Progressing",
        "waiting for the operator to observe generation 3",
    )


@pytest.mark.parametrize("kind", KINDS)
def test_a_spec_the_operator_cannot_parse_is_degraded(kind: str) -> None:
    # Healthy conditions from before the edit must not hide that the operator has given up.
    status = observed(Status(), invalid_spec("spec.steps: Field required"), MATERIALIZED)
    assert health(resource(kind, status)) == ("Degraded", "spec.steps: Field required")


# -- Rollout --------------------------------------------------------------------------------


def test_a_succeeded_rollout_is_healthy() -> None:
    status = rollout(RolloutPhase.SUCCEEDED, "The candidate takes all traffic.")
    assert health(resource("Rollout", status)) == ("Healthy", "The candidate takes all traffic.")


def test_a_rolled_back_rollout_is_degraded_with_the_guardrail_message() -> None:
    status = rollout(RolloutPhase.ROLLED_BACK, ROLLED_BACK.message, ROLLED_BACK, analysis=[BREACH])
    assert health(resource("Rollout", status)) == ("Degraded", ROLLED_BACK.message)


def test_a_rolled_back_rollout_keeps_the_guardrail_message_after_the_operator_moves_on() -> None:
    # The tick after a rollback overwrites the Progressing condition with "finished".
    finished = Observation(PROGRESSING, "True", "Finished", "The rollout has finished.")
    status = rollout(RolloutPhase.ROLLED_BACK, finished.message, finished, analysis=[BREACH])
    assert health(resource("Rollout", status)) == ("Degraded", "errorRate 0.031 > 0.01")


def test_a_rollout_rolled_back_by_a_person_is_degraded_with_their_reason() -> None:
    finished = Observation(PROGRESSING, "True", "Finished", "The rollout has finished.")
    status = rollout(RolloutPhase.ROLLED_BACK, finished.message, finished)
    body = resource("Rollout", status, annotations={ROLLBACK_ANNOTATION: "conversion dropped"})
    assert health(body) == ("Degraded", "rolled back on request: conversion dropped")


def test_a_rollout_just_rolled_back_by_a_person_is_degraded_with_their_reason() -> None:
    # The tick that rolls back says "on request"; the person's reason is in their annotation.
    requested = Observation(
        PROGRESSING, "False", RolloutReason.ROLLBACK_REQUESTED, "Rolled back on request."
    )
    status = rollout(RolloutPhase.ROLLED_BACK, requested.message, requested)
    body = resource("Rollout", status, annotations={ROLLBACK_ANNOTATION: "pager"})
    assert health(body) == ("Degraded", "rolled back on request: pager")


def test_a_failed_rollout_is_degraded_with_the_progressing_condition_message() -> None:
    failed = Observation(PROGRESSING, "False", "RouterRefused", "SeldonDeployment churn is gone")
    status = rollout(RolloutPhase.FAILED, "SeldonDeployment churn is gone", failed)
    assert health(resource("Rollout", status)) == ("Degraded", "SeldonDeployment churn is gone")


def test_a_paused_rollout_is_suspended() -> None:
    message = "Paused: resume to go on, or roll back."
    status = rollout(RolloutPhase.PAUSED, message)
    assert health(resource("Rollout", status)) == ("Suspended", message)


def test_a_rollout_between_steps_is_progressing_with_its_status_message() -> None:
    status = rollout(
        RolloutPhase.PROGRESSING,
        "canary: 240s to go",
        Observation(PROGRESSING, "True", "StepInProgress", "canary: 240s to go"),
        current_step=1,
        traffic=TrafficSplit(baseline=95, candidate=5),
    )
    assert health(resource("Rollout", status)) == ("Progressing", "canary: 240s to go")


def test_a_rollout_waiting_for_its_candidate_is_progressing_with_what_is_missing() -> None:
    # Argo CD may apply the Rollout before the ModelVersion it names.
    missing = acceptance([Reference("ModelVersion", "churn-v2")], "churn")
    status = observed(RolloutStatus(phase=RolloutPhase.PENDING), missing)
    assert health(resource("Rollout", status)) == ("Progressing", missing.message)


# -- ModelVersion ---------------------------------------------------------------------------


@pytest.mark.parametrize("phase", [ModelPhase.PRODUCTION, ModelPhase.STAGING])
def test_a_model_version_serving_or_staged_is_healthy(phase: ModelPhase) -> None:
    # A sign-off still to come is the normal state of a staged model, not a fault.
    unsigned = Approval()
    awaiting = sign_off_verdict(
        (), unsigned, Authors(), registry_version="3", digest=None
    ).condition
    status = model_version(phase, awaiting, gates_summary="5/5 passed")
    assert health(resource("ModelVersion", status)) == ("Healthy", f"{phase}, gates 5/5 passed")


def test_an_archived_model_version_is_healthy() -> None:
    status = model_version(ModelPhase.ARCHIVED)
    assert health(resource("ModelVersion", status))[0] == "Healthy"


def test_a_held_model_version_is_degraded_with_the_failing_gates() -> None:
    gates = gates_condition(
        [
            GateVerdict("metric:auc", Verdict.FAIL, "MetricRegressed", "auc: worse by 0.0100"),
            GateVerdict("drift:country", Verdict.PASS, "WithinLimit", "country psi 0.01"),
        ]
    )
    registered = Observation(TRAINED, "True", "Registered", "churn version 4 from run r-1.")
    status = model_version(ModelPhase.HELD, registered, gates)
    assert health(resource("ModelVersion", status)) == ("Degraded", "auc: worse by 0.0100")


def test_a_model_version_whose_training_failed_is_degraded_with_the_run_error() -> None:
    failed = Observation(TRAINED, "False", "PipelineFailed", "Run r-1 failed: OOMKilled")
    status = model_version(ModelPhase.FAILED, failed)
    assert health(resource("ModelVersion", status)) == ("Degraded", "Run r-1 failed: OOMKilled")


@pytest.mark.parametrize("phase", [ModelPhase.PENDING, ModelPhase.TRAINING])
def test_a_model_version_not_yet_trained_is_progressing(phase: ModelPhase) -> None:
    training = Observation(TRAINED, "Unknown", "Training", "Run r-1 is Running.")
    status = model_version(phase, training)
    assert health(resource("ModelVersion", status)) == ("Progressing", "Run r-1 is Running.")


# -- FeatureView ----------------------------------------------------------------------------


def test_a_feature_view_that_cannot_materialize_is_degraded() -> None:
    down = Observation(READY, "False", "OnlineStoreUnavailable", "redis: connection refused")
    status = observed(FeatureViewStatus(), ACCEPTED, down, STALE)
    assert health(resource("FeatureView", status)) == ("Degraded", "redis: connection refused")


def test_a_feature_view_with_stale_features_is_degraded_naming_them() -> None:
    status = observed(FeatureViewStatus(), ACCEPTED, MATERIALIZED, STALE)
    state, message = health(resource("FeatureView", status))
    assert (state, message) == ("Degraded", "Stale features (lag > SLO): clicks_7d 900s > 600s.")


def test_a_materialized_fresh_feature_view_is_healthy() -> None:
    fresh = fresh_condition([FeatureLag("clicks_7d", 30.0, 600.0, ok=True)])
    status = observed(FeatureViewStatus(), ACCEPTED, MATERIALIZED, fresh)
    assert health(resource("FeatureView", status)) == ("Healthy", MATERIALIZED.message)


def test_a_feature_view_not_yet_materialized_is_progressing() -> None:
    fresh = fresh_condition([FeatureLag("segment", None, None, ok=True)])
    status = observed(FeatureViewStatus(), ACCEPTED, fresh)
    assert health(resource("FeatureView", status))[0] == "Progressing"


def test_a_fresh_feature_view_with_materialization_switched_off_is_healthy() -> None:
    # Ready is only written when materialization runs, so it never comes.
    fresh = fresh_condition([FeatureLag("segment", None, None, ok=True)])
    status = observed(FeatureViewStatus(), ACCEPTED, fresh)
    body = resource("FeatureView", status, spec={"materialization": {"enabled": False}})
    assert health(body)[0] == "Healthy"


# -- what a new phase needs -----------------------------------------------------------------

ROLLOUT_HEALTH = {
    RolloutPhase.PENDING: "Progressing",
    RolloutPhase.PROGRESSING: "Progressing",
    RolloutPhase.PAUSED: "Suspended",
    RolloutPhase.SUCCEEDED: "Healthy",
    RolloutPhase.ROLLED_BACK: "Degraded",
    RolloutPhase.FAILED: "Degraded",
}
MODEL_VERSION_HEALTH = {
    ModelPhase.PENDING: "Progressing",
    ModelPhase.TRAINING: "Progressing",
    ModelPhase.EVALUATING: "Progressing",
    ModelPhase.HELD: "Degraded",
    ModelPhase.STAGING: "Healthy",
    ModelPhase.PRODUCTION: "Healthy",
    ModelPhase.ARCHIVED: "Healthy",
    ModelPhase.FAILED: "Degraded",
}


def test_every_phase_the_api_defines_has_a_decided_health() -> None:
    # A phase added to the API fails here until someone decides what Argo CD should show.
    assert set(ROLLOUT_HEALTH) == set(RolloutPhase)
    assert set(MODEL_VERSION_HEALTH) == set(ModelPhase)
    rollouts = {p: health(resource("Rollout", rollout(p, "m")))[0] for p in RolloutPhase}
    models = {p: health(resource("ModelVersion", model_version(p)))[0] for p in ModelPhase}
    assert (rollouts, models) == (ROLLOUT_HEALTH, MODEL_VERSION_HEALTH)


# -- BatchPrediction ------------------------------------------------------------------------


def test_a_batch_prediction_serving_its_due_run_is_healthy() -> None:
    status = observed(BatchPredictionStatus(), ACCEPTED, SCORED)
    assert health(resource("BatchPrediction", status)) == ("Healthy", SCORED.message)


def test_a_batch_prediction_whose_run_fails_is_degraded_with_why() -> None:
    failed = Observation(READY, "False", "OnlineStoreUnavailable", "Run as of … failed: refused")
    status = observed(BatchPredictionStatus(), ACCEPTED, failed)
    assert health(resource("BatchPrediction", status)) == ("Degraded", failed.message)


def test_a_batch_prediction_with_a_held_shadow_is_suspended_until_a_person_decides() -> None:
    held = Observation("ModelChange", "False", "ShadowHeld", "Version 2's predictions … held")
    status = observed(BatchPredictionStatus(), ACCEPTED, SCORED, held)
    assert health(resource("BatchPrediction", status)) == ("Suspended", held.message)


def test_a_batch_prediction_waiting_for_its_model_is_progressing() -> None:
    waiting = Observation(READY, "Unknown", "WaitingForTrigger", "Nothing to score yet.")
    status = observed(BatchPredictionStatus(), ACCEPTED, waiting)
    assert health(resource("BatchPrediction", status)) == ("Progressing", waiting.message)


# -- the manifests --------------------------------------------------------------------------


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def test_the_argocd_cm_patch_embeds_exactly_the_health_checks() -> None:
    patch = _yaml(ARGOCD / "argocd-cm-patch.yaml")
    assert (patch["kind"], patch["metadata"]) == (
        "ConfigMap",
        {"name": "argocd-cm", "namespace": "argocd"},
    )
    embedded = {
        key.removeprefix("resource.customizations.health."): value
        for key, value in patch["data"].items()
        if key.startswith("resource.customizations.health.")
    }
    assert embedded == {f"paved.dev_{kind}": _script(kind) for kind in KINDS}


def test_argo_cd_ignores_the_seldon_predictors_paved_applies() -> None:
    data = _yaml(ARGOCD / "argocd-cm-patch.yaml")["data"]
    rule = yaml.safe_load(
        data["resource.customizations.ignoreDifferences.machinelearning.seldon.io_SeldonDeployment"]
    )
    # paved's server-side apply field manager (adapters/traffic/seldon_v1.py).
    assert rule == {"managedFieldsManagers": ["paved"]}


def test_argo_cd_ignores_the_inference_service_fields_paved_applies() -> None:
    data = _yaml(ARGOCD / "argocd-cm-patch.yaml")["data"]
    rule = yaml.safe_load(
        data["resource.customizations.ignoreDifferences.serving.kserve.io_InferenceService"]
    )
    # The same field manager (adapters/kubernetes_api.py, `server_side_apply`).
    assert rule == {"managedFieldsManagers": ["paved"]}


APPLICATIONS = sorted((ARGOCD / "applications").glob("*.yaml"))


@pytest.mark.parametrize("path", APPLICATIONS, ids=lambda p: p.stem)
def test_every_application_syncs_a_path_in_this_repository(path: Path) -> None:
    application = _yaml(path)
    assert application["apiVersion"] == "argoproj.io/v1alpha1"
    assert application["kind"] == "Application"
    assert application["metadata"]["name"] == path.stem
    source = application["spec"]["source"]
    assert source["repoURL"] == "https://github.com/example/paved.git"
    assert (ROOT / source["path"]).is_dir()
    assert list((ROOT / source["path"]).glob("*.yaml"))


def test_the_api_syncs_before_the_operator_and_the_operator_before_the_example() -> None:
    applications = {path.stem: _yaml(path) for path in APPLICATIONS}
    waves = {
        name: int(app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"])
        for name, app in applications.items()
    }
    assert sorted(waves, key=waves.__getitem__) == ["paved-crds", "paved-operator", "churn-example"]
    assert "ServerSideApply=true" in applications["paved-crds"]["spec"]["syncPolicy"]["syncOptions"]
    # The CRDs belong to paved-crds alone.
    assert applications["paved-operator"]["spec"]["source"]["helm"]["skipCrds"] is True


def _applies_server_side(path: Path) -> bool:
    policy = _yaml(path)["spec"].get("syncPolicy", {})
    return "ServerSideApply=true" in policy.get("syncOptions", [])


@pytest.mark.parametrize(
    "path", [p for p in APPLICATIONS if _applies_server_side(p)], ids=lambda p: p.stem
)
def test_an_application_that_applies_server_side_compares_server_side(path: Path) -> None:
    """Compared client-side, what the API server defaults or drops after a server-side apply
    (an empty schema `properties`, `scope: '*'` in a policy's rules) stays OutOfSync for ever:
    paved-crds never became Synced on a real Argo CD before this."""
    annotations = _yaml(path)["metadata"].get("annotations", {})
    assert annotations.get("argocd.argoproj.io/compare-options") == "ServerSideDiff=true"
