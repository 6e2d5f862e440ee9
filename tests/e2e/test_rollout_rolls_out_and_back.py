"""A Rollout steps a trained candidate through shadow and canary on a SeldonDeployment, reading
guardrails from the real Prometheus: a candidate with errors is rolled back to the baseline
with the guardrail's numbers; a healthy one goes to full and becomes the production version."""

from __future__ import annotations

import asyncio
import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from mlflow.tracking import MlflowClient

from paved.adapters.metrics.prometheus import PrometheusMetrics
from paved.api.rollout import BuiltinGuardrail
from paved.core.guardrails import builtin_queries
from paved.local.platform import Endpoints, LocalPlatform
from tests.support.churn_data import write_churn_data
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.seldon_metrics import seldon_executors
from tests.support.training import example
from tests.support.waiting import wait_for

ROLLOUT = "rollout.paved.dev"
PAVED = str(Path(sys.executable).parent / "paved")


def _rollout(name: str, deployment: str, canary_seconds: str) -> dict[str, Any]:
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "candidate": "churn-v1",
            "target": {"seldonDeployment": deployment},
            "steps": [
                {"shadow": {"duration": "2s"}},
                {"canary": {"weight": 20, "duration": canary_seconds}},
                {"full": {}},
            ],
            "guardrails": [{"builtin": "errorRate", "max": 0.05}],
            "analysis": {"interval": "2s", "window": "20s", "minSamples": 5, "failureLimit": 0,
                         "onNoData": "wait"},
        },
    }  # fmt: skip


def _predictors(kubectl: Kubectl, deployment: str, namespace: str) -> dict[str, Any]:
    found = kubectl.get_json("seldondeployment", deployment, "-n", namespace)
    return {p["name"]: p for p in found["spec"]["predictors"]}


def test_a_faulty_candidate_is_rolled_back_and_a_healthy_one_is_promoted(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    namespace: str,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> None:
    write_churn_data(paved_operator.data_root / namespace)
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = f"{namespace}/activity/*.parquet"
    view["spec"]["materialization"]["enabled"] = False
    model_version = copy.deepcopy(example("02-modelversion.yaml"))
    model = f"churn-{namespace}"
    model_version["spec"]["model"] = model
    model_version["spec"]["labels"]["path"] = f"{namespace}/churn_labels.parquet"
    model_version["spec"]["gates"]["metric"]["minValue"] = 0.6
    kubectl.apply(yaml.safe_dump_all([view, model_version]), "-n", namespace)
    staged = wait_for_condition(
        kubectl, "modelversion.paved.dev", "churn-v1", namespace, "GatesPassed", "True", timeout=240
    )
    deployment = f"d-{namespace}"
    seldon = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": deployment},
        "spec": {"predictors": [{"name": "baseline", "traffic": 100,
                                 "graph": {"name": "classifier", "modelUri": "models:/churn/0"}}]},
    }  # fmt: skip
    kubectl.apply(yaml.safe_dump(seldon), "-n", namespace)

    with seldon_executors(
        local_platform, deployment, ("baseline", "candidate", "shadow")
    ) as executors:
        executors.error_ratio["candidate"] = 0.3  # fails in canary, after a clean shadow

        kubectl.apply(yaml.safe_dump(_rollout("faulty", deployment, "5m")), "-n", namespace)
        rolled_back = wait_for(
            lambda: (r := kubectl.get_json(ROLLOUT, "faulty", "-n", namespace)).get(
                "status", {}).get("phase") == "RolledBack" and r,
            timeout=120, what="the faulty candidate to be rolled back",
        )  # fmt: skip
        progressing = condition(rolled_back, "Progressing")
        assert progressing is not None
        assert progressing["reason"] == "GuardrailBreached"
        assert "errorRate 0.3 > 0.05" in progressing["message"]
        assert rolled_back["status"]["traffic"] == {
            "baseline": 100,
            "candidate": 0,
            "shadow": False,
        }
        assert set(_predictors(kubectl, deployment, namespace)) == {"baseline"}

        # A person pulls the plug on a healthy canary: one command, back to the baseline.
        executors.error_ratio["candidate"] = 0.0
        errors = builtin_queries(
            BuiltinGuardrail.ERROR_RATE, namespace, deployment, "candidate", "20s"
        )
        metrics = PrometheusMetrics(endpoints.prometheus)
        wait_for(
            lambda: asyncio.run(metrics.value(errors.value)) == 0.0,
            timeout=60, what="the old errors to leave the guardrail's window",
        )  # fmt: skip
        kubectl.apply(yaml.safe_dump(_rollout("by-hand", deployment, "10m")), "-n", namespace)
        wait_for(
            lambda: (kubectl.get_json(ROLLOUT, "by-hand", "-n", namespace).get("status") or {})
            .get("traffic", {}).get("candidate") == 20,
            timeout=60, what="the canary at 20%",
        )  # fmt: skip
        requested = subprocess.run(
            [PAVED, "rollout", "rollback", "by-hand", "-n", namespace, "--reason", "pager",
             f"--kubeconfig={endpoints.kubeconfig}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert requested.returncode == 0, requested.stderr
        by_hand = wait_for_condition(
            kubectl, ROLLOUT, "by-hand", namespace, "Progressing", "False", timeout=30
        )
        assert (condition(by_hand, "Progressing") or {})["reason"] == "RollbackRequested"
        assert set(_predictors(kubectl, deployment, namespace)) == {"baseline"}

        kubectl.apply(yaml.safe_dump(_rollout("healthy", deployment, "4s")), "-n", namespace)
        # Production needs a sign-off: the rollout waits before full until an approver gives it.
        paused = wait_for_condition(
            kubectl, ROLLOUT, "healthy", namespace, "Progressing", "True", timeout=60,
            reason="PromotionRefused",
        )  # fmt: skip
        assert paused["status"]["phase"] == "Paused"
        kubectl.run("create", "role", "approve", "--verb=get,patch",
                    "--resource=modelversions.paved.dev", "-n", namespace)  # fmt: skip
        kubectl.run("create", "rolebinding", "approve", "--role=approve",
                    "--group=ml-approvers", "-n", namespace)  # fmt: skip
        alice = local_platform.user_kubeconfig("alice", ("ml-approvers",))
        approved = subprocess.run(
            [PAVED, "approve", "churn-v1", "-n", namespace, f"--kubeconfig={alice}"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert approved.returncode == 0, approved.stderr
        promoted = wait_for(
            lambda: (r := kubectl.get_json(ROLLOUT, "healthy", "-n", namespace)).get(
                "status", {}).get("phase") == "Succeeded" and r,
            timeout=120, what="the healthy candidate to reach full",
        )  # fmt: skip
    assert promoted["status"]["traffic"]["candidate"] == 100
    predictors = _predictors(kubectl, deployment, namespace)
    assert predictors["candidate"]["traffic"] == 100
    assert predictors["candidate"]["graph"]["modelUri"] == staged["status"]["registry"]["uri"]
    client = MlflowClient(endpoints.mlflow)
    production = client.get_model_version_by_alias(model, "production")
    assert production.version == staged["status"]["registry"]["version"]
    # The ModelVersion controller writes the sign-off onto the registry version too.
    wait_for(
        lambda: client.get_model_version(model, production.version).tags.get("paved.approved_by")
        == "alice",
        timeout=30, what="the sign-off on the registry version",
    )  # fmt: skip
    wait_for(
        lambda: kubectl.get_json("modelversion.paved.dev", "churn-v1", "-n", namespace)["status"][
            "phase"] == "Production",
        timeout=30, what="the ModelVersion to show Production",
    )  # fmt: skip
