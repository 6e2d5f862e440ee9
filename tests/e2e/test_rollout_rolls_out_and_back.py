"""A Rollout steps a trained candidate through shadow, canary and an A/B test on a SeldonDeployment
the local data plane serves under steady traffic, judged by the real Prometheus: a candidate
that fails requests is rolled back with the guardrail's numbers, a person rolls one back in one
command, and a better model survives an operator crash mid-canary, holds its step while
Prometheus hangs and carries on after the API server hung, wins its A/B test and, once signed
off, becomes the production version."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, assert_never

import httpx
import mlflow
import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient
from sklearn.dummy import DummyClassifier

from paved.adapters.metrics.prometheus import PrometheusMetrics
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.adapters.traffic import kserve, seldon_v1
from paved.adapters.traffic.seldon_v1 import builtin_queries
from paved.api.rollout import Backend, BuiltinGuardrail
from paved.core.model_versions import registered_model_name
from paved_local.platform import APISERVER, PROMETHEUS, Endpoints, LocalPlatform
from tests.support.approvals import sign_off
from tests.support.churn_data import serving_examples, write_churn_data
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.outages import frozen
from tests.support.rollouts import roll_back
from tests.support.traffic import steady_load
from tests.support.training import example
from tests.support.waiting import wait_for

ROLLOUT = "rollout.paved.dev"
CANARY = dt.timedelta(seconds=90)  # room for a slow operator restart inside it
ANALYSIS = dt.timedelta(seconds=2)


def _rollout(name: str, deployment: str, canary: str, ab_test: bool = False) -> dict[str, Any]:
    steps: list[dict[str, Any]] = [
        {"shadow": {"duration": "2s"}},
        {"canary": {"weight": 20, "duration": canary}},
    ]
    if ab_test:
        steps.append(
            {"abTest": {"weight": 50, "minimumDetectableEffect": 0.1, "maxDuration": "5m"}}
        )
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "candidate": "churn-v1",
            "target": {"seldonDeployment": {"name": deployment}},
            "steps": [*steps, {"full": {}}],
            "guardrails": [{"builtin": "errorRate", "max": 0.05}],
            "analysis": {
                "interval": "2s",
                "window": "20s",
                "minSamples": 5,
                "failureLimit": 0,
                "onNoData": "wait",
            },
        },
    }


def _naive_baseline(endpoints: Endpoints) -> str:
    """Today's rule: everyone is about to churn (score 1), so every user gets the offer."""
    mlflow.set_tracking_uri(endpoints.mlflow)
    rule = DummyClassifier(strategy="constant", constant=1).fit(np.zeros((2, 1)), [0, 1])
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(rule, name="model")
    registry = MlflowRegistry(endpoints.mlflow)
    name = f"churn-rule-{uuid.uuid4().hex[:6]}"
    return asyncio.run(registry.register(name, run.info.run_id, "rule", {})).uri


def _predictors(kubectl: Kubectl, deployment: str, namespace: str) -> dict[str, Any]:
    found = kubectl.get_json("seldondeployment", deployment, "-n", namespace)
    return {p["name"]: p for p in found["spec"]["predictors"]}


def _step_started(kubectl: Kubectl, name: str, namespace: str, *, kind: str) -> dict[str, Any]:
    """The Rollout's status once a step of `kind` has started (its clock with it)."""
    started: dict[str, Any] = wait_for(
        lambda: (
            (s := _status(kubectl, name, namespace)).get("currentStepKind") == kind
            and s.get("stepStartedAt")
            and s
        ),
        timeout=60,
        what=f"the {kind} to start",
    )
    return started


def _status(kubectl: Kubectl, name: str, namespace: str) -> dict[str, Any]:
    status: dict[str, Any] = kubectl.get_json(ROLLOUT, name, "-n", namespace).get("status") or {}
    return status


def _rollout_retries(operator: RunningOperator) -> float:
    """How many Rollout reconciles the operator has had to retry (a service did not answer)."""
    for line in httpx.get(operator.metrics_url, timeout=5).text.splitlines():
        if line.startswith('paved_reconcile_total{kind="Rollout",result="retry"}'):
            return float(line.split()[-1])
    return 0.0


@dataclass(frozen=True)
class Trained:
    """churn-v1 trained and staged once for the module: every rollout here rolls it out."""

    namespace: str
    data: Path
    model: str  # its registered model's name in the spec
    staged: dict[str, Any]  # the ModelVersion once its gates passed
    baseline_uri: str  # a naive rule, registered: what each serving object starts with

    @property
    def candidate_uri(self) -> str:
        return str(self.staged["status"]["registry"]["uri"])


@pytest.fixture(scope="module")
def trained(paved_operator: RunningOperator, kubectl: Kubectl, endpoints: Endpoints) -> Trained:
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    kubectl.run("create", "namespace", namespace)
    data = paved_operator.data_root / namespace
    write_churn_data(data)
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"  # under <data root>/<namespace>/
    view["spec"]["materialization"]["enabled"] = False
    model_version = copy.deepcopy(example("02-modelversion.yaml"))
    model = f"churn-{namespace}"
    model_version["spec"]["model"] = model
    model_version["spec"]["labels"]["path"] = "churn_labels.parquet"
    model_version["spec"]["gates"]["metric"]["minValue"] = 0.6
    kubectl.apply(yaml.safe_dump_all([view, model_version]), "-n", namespace)
    staged = wait_for_condition(
        kubectl, "modelversion.paved.dev", "churn-v1", namespace, "GatesPassed", "True", timeout=240
    )
    return Trained(namespace, data, model, staged, _naive_baseline(endpoints))


def test_a_rollout_is_decided_by_real_traffic(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    trained: Trained,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> None:
    namespace, data, model, staged = trained.namespace, trained.data, trained.model, trained.staged
    deployment = f"d-{namespace}"
    seldon = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": deployment},
        "spec": {
            "predictors": [
                {
                    "name": "baseline",
                    "traffic": 100,
                    "graph": {"name": "classifier", "modelUri": trained.baseline_uri},
                }
            ]
        },
    }
    kubectl.apply(yaml.safe_dump(seldon), "-n", namespace)
    candidate_uri = trained.candidate_uri
    metrics = PrometheusMetrics(endpoints.prometheus)

    # What cannot be carried out is refused before any traffic moves, with its reason.
    nowhere = _rollout("nowhere", "no-such-deployment", "5m")
    bad_query = _rollout("bad-query", deployment, "5m")
    bad_query["spec"]["guardrails"].append({"name": "drift", "query": "sum(rate(x[1m]", "max": 1})
    kubectl.apply(yaml.safe_dump_all([nowhere, bad_query]), "-n", namespace)
    for name, reason in (("nowhere", "DeploymentNotFound"), ("bad-query", "QueryInvalid")):
        refused = wait_for_condition(
            kubectl, ROLLOUT, name, namespace, "Progressing", "False", timeout=60, reason=reason
        )
        assert refused["status"]["phase"] == "Pending"
    kubectl.run("delete", "rollout.paved.dev", "nowhere", "bad-query", "-n", namespace)
    assert set(_predictors(kubectl, deployment, namespace)) == {"baseline"}

    # A rollout that is only `full` would hand the unsigned candidate all traffic: it waits,
    # saying what is missing, and no traffic moves.
    full_only = _rollout("full-only", deployment, "5m")
    full_only["spec"]["steps"] = [{"full": {}}]
    kubectl.apply(yaml.safe_dump(full_only), "-n", namespace)
    held = wait_for_condition(
        kubectl,
        ROLLOUT,
        "full-only",
        namespace,
        "Progressing",
        "True",
        timeout=60,
        reason="PromotionRefused",
    )
    assert held["status"]["phase"] == "Paused"
    assert "churn-v1: Production needs a sign-off" in held["status"]["message"]
    assert held["status"].get("currentStep") is None
    assert set(_predictors(kubectl, deployment, namespace)) == {"baseline"}
    kubectl.run("delete", "rollout.paved.dev", "full-only", "-n", namespace)

    with steady_load(endpoints, namespace, deployment, serving_examples(data), rate=40) as load:
        # In shadow, the candidate's scores are judged against the baseline's: the naive rule
        # scores everyone 1.0, so against it any real model's output distribution has drifted.
        drifting = _rollout("drifting", deployment, "5m")
        drifting["spec"]["steps"][0] = {"shadow": {"duration": "5m"}}
        drifting["spec"]["guardrails"] = [{"builtin": "scoreDrift", "max": 0.2}]
        kubectl.apply(yaml.safe_dump(drifting), "-n", namespace)
        drifted = wait_for_condition(
            kubectl,
            ROLLOUT,
            "drifting",
            namespace,
            "Progressing",
            "False",
            timeout=120,
            reason="GuardrailBreached",
        )
        assert "scoreDrift" in (condition(drifted, "Progressing") or {})["message"]
        assert drifted["status"]["traffic"] == {"baseline": 100, "candidate": 0, "shadow": False}
        assert set(_predictors(kubectl, deployment, namespace)) == {"baseline"}

        # The candidate fails 30% of the requests it serves live (its shadow copy is healthy).
        httpx.put(
            f"{endpoints.dataplane}/v1/faults",
            json={"modelUri": candidate_uri, "predictor": "candidate", "errorRate": 0.3},
        ).raise_for_status()
        kubectl.apply(yaml.safe_dump(_rollout("faulty", deployment, "5m")), "-n", namespace)
        rolled_back = wait_for(
            lambda: (
                (r := kubectl.get_json(ROLLOUT, "faulty", "-n", namespace))
                .get("status", {})
                .get("phase")
                == "RolledBack"
                and r
            ),
            timeout=120,
            what="the faulty candidate to be rolled back",
        )
        progressing = condition(rolled_back, "Progressing")
        assert progressing is not None
        assert progressing["reason"] == "GuardrailBreached"
        assert "errorRate 0." in progressing["message"]
        assert "> 0.05" in progressing["message"]
        assert rolled_back["status"]["traffic"] == {
            "baseline": 100,
            "candidate": 0,
            "shadow": False,
        }
        assert set(_predictors(kubectl, deployment, namespace)) == {"baseline"}
        breach = next(r for r in rolled_back["status"]["analysis"] if r["verdict"] == "breach")
        assert breach["threshold"] == 0.05
        assert breach["value"] > 0.05

        # A person pulls the plug on a healthy canary: one command, back to the baseline.
        httpx.delete(f"{endpoints.dataplane}/v1/faults", params={"modelUri": candidate_uri})
        errors = builtin_queries(
            BuiltinGuardrail.ERROR_RATE, namespace, deployment, "candidate", "20s"
        )
        wait_for(
            lambda: asyncio.run(metrics.value(errors.value)) in (None, 0.0),
            timeout=60,
            what="the old errors to leave the guardrail's window",
        )
        kubectl.apply(yaml.safe_dump(_rollout("by-hand", deployment, "10m")), "-n", namespace)
        wait_for(
            lambda: (
                (_status(kubectl, "by-hand", namespace).get("traffic") or {}).get("candidate") == 20
            ),
            timeout=60,
            what="the canary at 20%",
        )
        # One rollout per deployment: a second one waits, refused, and moves nothing.
        kubectl.apply(yaml.safe_dump(_rollout("second", deployment, "5m")), "-n", namespace)
        wait_for_condition(
            kubectl,
            ROLLOUT,
            "second",
            namespace,
            "Progressing",
            "False",
            timeout=60,
            reason="TargetTaken",
        )
        kubectl.run("delete", "rollout.paved.dev", "second", "-n", namespace)
        assert _predictors(kubectl, deployment, namespace)["candidate"]["traffic"] == 20
        roll_back("by-hand", namespace, "pager", endpoints.kubeconfig)
        by_hand = wait_for_condition(
            kubectl, ROLLOUT, "by-hand", namespace, "Progressing", "False", timeout=30
        )
        assert (condition(by_hand, "Progressing") or {})["reason"] == "RollbackRequested"
        assert set(_predictors(kubectl, deployment, namespace)) == {"baseline"}

        kubectl.apply(
            yaml.safe_dump(_rollout("better", deployment, f"{CANARY.seconds}s", ab_test=True)),
            "-n",
            namespace,
        )
        in_shadow = _step_started(kubectl, "better", namespace, kind="shadow")
        in_canary = _step_started(kubectl, "better", namespace, kind="canary")
        # Each step's clock starts when the router shows its split, not with the first step.
        assert in_canary["stepStartedAt"] > in_shadow["stepStartedAt"]
        paved_operator.stop(crash=True)
        paved_operator.start()
        # Back from the crash, it holds the same step: no flip-flop of the live split.
        resumed = wait_for(
            lambda: (
                (s := _status(kubectl, "better", namespace)).get("lastAnalysisAt")
                != in_canary.get("lastAnalysisAt")
                and s
            ),
            timeout=60,
            what="the restarted operator to analyse the rollout",
        )
        assert resumed["currentStep"] == in_canary["currentStep"]
        assert resumed["stepStartedAt"] == in_canary["stepStartedAt"]
        assert _predictors(kubectl, deployment, namespace)["candidate"]["traffic"] == 20

        # Prometheus hangs until well past the canary's end. The rollout says it is blind and
        # holds its step and split: no step ends on readings it could not take.
        canary_over = dt.datetime.fromisoformat(in_canary["stepStartedAt"]) + CANARY + 2 * ANALYSIS
        with frozen(local_platform, PROMETHEUS):
            blind = wait_for_condition(
                kubectl,
                ROLLOUT,
                "better",
                namespace,
                "Progressing",
                "Unknown",
                timeout=60,
                reason="MetricsUnavailable",
            )
            assert "Prometheus" in (condition(blind, "Progressing") or {})["message"]

            def held_past_the_canary() -> bool:
                status = _status(kubectl, "better", namespace)
                assert status["currentStep"] == in_canary["currentStep"], status
                assert _predictors(kubectl, deployment, namespace)["candidate"]["traffic"] == 20
                return dt.datetime.now(dt.UTC) > canary_over

            wait_for(held_past_the_canary, timeout=120, what="the canary's time to run out")
        # Then the API server hangs for a while: the operator's calls time out and are retried,
        # and it carries on once the API server answers again.
        retries_before = _rollout_retries(paved_operator)
        with frozen(local_platform, APISERVER):
            # Every API call the operator has in flight waits out its 15-s read timeout in a
            # pool of 32 threads; with the objects the suite's earlier tests leave, the Rollout's
            # call can wait in that queue for over 90 s (it did, in CI).
            wait_for(
                lambda: _rollout_retries(paved_operator) > retries_before,
                timeout=240,
                what="the operator to notice the API server hanging",
            )
        wait_for(
            lambda: _status(kubectl, "better", namespace).get("currentStepKind") == "abTest",
            timeout=120,
            what="the canary to end once its guardrails can be read",
        )

        # Production needs a sign-off: the rollout waits before full until an approver gives it.
        paused = wait_for_condition(
            kubectl,
            ROLLOUT,
            "better",
            namespace,
            "Progressing",
            "True",
            timeout=240,
            reason="PromotionRefused",
        )
        experiment = paused["status"]["experiment"]
        assert experiment["outcome"] == "win", experiment
        assert experiment["low"] > 0
        sign_off(kubectl, local_platform, namespace, "churn-v1")
        promoted = wait_for(
            lambda: (s := _status(kubectl, "better", namespace)).get("phase") == "Succeeded" and s,
            timeout=120,
            what="the better candidate to reach full",
        )
    assert load.sent > 0
    assert load.by_predictor["candidate"] > 0
    assert promoted["traffic"]["candidate"] == 100
    # The baseline predictor now serves the promoted model, so the next rollout starts from it.
    predictors = _predictors(kubectl, deployment, namespace)
    assert set(predictors) == {"baseline"}
    assert predictors["baseline"]["graph"]["modelUri"] == candidate_uri
    client = MlflowClient(endpoints.mlflow)
    model = registered_model_name(namespace, model)  # the registry's name for it
    production = client.get_model_version_by_alias(model, "production")
    assert production.version == staged["status"]["registry"]["version"]
    # The ModelVersion controller writes the sign-off onto the registry version too.
    wait_for(
        lambda: (
            client.get_model_version(model, production.version).tags.get("paved.approved_by")
            == "alice"
        ),
        timeout=30,
        what="the sign-off on the registry version",
    )
    wait_for(
        lambda: (
            kubectl.get_json("modelversion.paved.dev", "churn-v1", "-n", namespace)["status"][
                "phase"
            ]
            == "Production"
        ),
        timeout=30,
        what="the ModelVersion to show Production",
    )


def _serving_object(backend: Backend, name: str, model_uri: str) -> dict[str, Any]:
    match backend:
        case Backend.SELDON_DEPLOYMENT:
            graph = {"name": "classifier", "modelUri": model_uri}
            return {
                "apiVersion": "machinelearning.seldon.io/v1",
                "kind": "SeldonDeployment",
                "metadata": {"name": name},
                "spec": {"predictors": [{"name": "baseline", "traffic": 100, "graph": graph}]},
            }
        case Backend.INFERENCE_SERVICE:
            model = {"modelFormat": {"name": "mlflow"}, "storageUri": model_uri}
            return {
                "apiVersion": "serving.kserve.io/v1beta1",
                "kind": "InferenceService",
                "metadata": {"name": name},
                "spec": {"predictor": {"model": model}},
            }
        case unreachable:
            assert_never(unreachable)


def _on(backend: Backend, name: str, rollout: dict[str, Any]) -> dict[str, Any]:
    """`rollout` moved onto `backend`'s object `name`; on KServe, whose arms have no feedback,
    its A/B test counts the outcomes the load generator records per revision."""
    key = {
        Backend.SELDON_DEPLOYMENT: "seldonDeployment",
        Backend.INFERENCE_SERVICE: "inferenceService",
    }[backend]
    rollout["spec"]["target"] = {key: {"name": name}}
    for step in rollout["spec"]["steps"]:
        if "abTest" in step and backend is Backend.INFERENCE_SERVICE:
            step["abTest"] |= {
                "metric": "paved_outcome_reward_total",
                "trials": "paved_outcome_total",
            }
    return rollout


def _candidate_errors(kubectl: Kubectl, backend: Backend, namespace: str, name: str) -> str:
    """The error-rate guardrail's own query on the candidate's arm, over its 20s window."""
    match backend:
        case Backend.SELDON_DEPLOYMENT:
            return seldon_v1.builtin_queries(
                BuiltinGuardrail.ERROR_RATE, namespace, name, "candidate", "20s"
            ).value
        case Backend.INFERENCE_SERVICE:
            found = kubectl.get_json("inferenceservice", name, "-n", namespace)
            revision = found["status"]["components"]["predictor"]["latestReadyRevision"]
            return kserve.builtin_queries(
                BuiltinGuardrail.ERROR_RATE, namespace, name, revision, "20s"
            ).value
        case unreachable:
            assert_never(unreachable)


def _serves(kubectl: Kubectl, backend: Backend, namespace: str, name: str) -> dict[str, Any]:
    """What the serving object's spec says is served: the model URIs and their percents."""
    match backend:
        case Backend.SELDON_DEPLOYMENT:
            predictors = _predictors(kubectl, name, namespace).values()
            return {p["graph"]["modelUri"]: p.get("traffic", 0) for p in predictors}
        case Backend.INFERENCE_SERVICE:
            predictor = kubectl.get_json("inferenceservice", name, "-n", namespace)["spec"][
                "predictor"
            ]
            return {predictor["model"]["storageUri"]: predictor.get("canaryTrafficPercent", 100)}
        case unreachable:
            assert_never(unreachable)


def _finished(kubectl: Kubectl, name: str, namespace: str) -> dict[str, Any] | None:
    status = _status(kubectl, name, namespace)
    return status if status.get("phase") in ("Succeeded", "RolledBack", "Failed") else None


@pytest.mark.parametrize("backend", list(Backend), ids=str)
def test_each_backend_rolls_back_a_failing_candidate_and_promotes_a_better_one(
    backend: Backend,
    kubectl: Kubectl,
    trained: Trained,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
    paved_operator: RunningOperator,
) -> None:
    """canary → A/B → full, and an automatic rollback, the same Rollout on either backend."""
    namespace, candidate = trained.namespace, trained.candidate_uri
    name = f"{backend.lower()}-{uuid.uuid4().hex[:6]}"
    kubectl.apply(
        yaml.safe_dump(_serving_object(backend, name, trained.baseline_uri)), "-n", namespace
    )
    metrics = PrometheusMetrics(endpoints.prometheus)
    examples = serving_examples(trained.data)
    with steady_load(endpoints, namespace, name, examples, rate=40, backend=backend) as load:
        httpx.put(
            f"{endpoints.dataplane}/v1/faults", json={"modelUri": candidate, "errorRate": 0.3}
        ).raise_for_status()
        faulty = _on(backend, name, _rollout(f"faulty-{name}", name, "5m"))
        faulty["spec"]["steps"] = faulty["spec"]["steps"][1:]  # canary, full: no shadow
        kubectl.apply(yaml.safe_dump(faulty), "-n", namespace)
        rolled_back = wait_for(
            lambda: _finished(kubectl, f"faulty-{name}", namespace),
            timeout=120,
            what="the faulty candidate to be rolled back",
        )
        assert rolled_back["phase"] == "RolledBack"
        assert "errorRate 0." in rolled_back["message"]
        assert _serves(kubectl, backend, namespace, name).get(candidate, 0) == 0
        # The operator's own log says so too (it logs what it tells the objects, quiet or not).
        told = rf"Rollout {namespace}/faulty-{name} (Normal|Warning): GuardrailBreached: errorRate"
        assert re.search(told, paved_operator.log.read_text()), told

        httpx.delete(f"{endpoints.dataplane}/v1/faults", params={"modelUri": candidate})
        errors = _candidate_errors(kubectl, backend, namespace, name)
        wait_for(
            lambda: asyncio.run(metrics.value(errors)) in (None, 0.0),
            timeout=60,
            what="the old errors to leave the guardrail's window",
        )
        sign_off(kubectl, local_platform, namespace, "churn-v1")
        better = _on(backend, name, _rollout(f"better-{name}", name, "10s", ab_test=True))
        better["spec"]["steps"] = better["spec"]["steps"][1:]
        kubectl.apply(yaml.safe_dump(better), "-n", namespace)
        promoted = wait_for(
            lambda: _finished(kubectl, f"better-{name}", namespace),
            timeout=300,
            what="the better candidate to finish its rollout",
        )
    assert promoted["phase"] == "Succeeded", promoted
    assert promoted["experiment"]["outcome"] == "win"
    assert _serves(kubectl, backend, namespace, name) == {candidate: 100}
    assert load.sent > 0
    assert sum(load.rewards.values()) > 0
