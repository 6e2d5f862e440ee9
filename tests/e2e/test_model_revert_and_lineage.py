"""Governance on the local platform: a promoted model's whole evidence chain is printed by
`paved lineage`, live from the cluster and MLflow, and a missing link (the sign-off removed) is
said missing; `paved model revert` then puts the previous production version back in one
command, traffic and registry consistent, and MLflow alone tells what happened."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from typing import Any

import yaml
from mlflow.tracking import MlflowClient

from paved.core.model_versions import registered_model_name
from paved.core.registry_memory import REPLACED_TAG, REVERTED_TAG, rollout_tag
from paved_local.platform import Endpoints, LocalPlatform
from tests.support.approvals import PAVED, sign_off
from tests.support.churn_data import write_churn_data
from tests.support.conditions import wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.production_rule import register_production_rule
from tests.support.training import example
from tests.support.waiting import wait_for

ROLLOUT = "rollout.paved.dev"


def _paved(endpoints: Endpoints, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "PAVED_MLFLOW_TRACKING_URI": endpoints.mlflow}
    return subprocess.run(
        [PAVED, *args, f"--kubeconfig={endpoints.kubeconfig}"],
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        timeout=180,
    )


def _baseline_model(kubectl: Kubectl, deployment: str, namespace: str) -> str:
    found = kubectl.get_json("seldondeployment", deployment, "-n", namespace)
    predictors = {p["name"]: p for p in found["spec"]["predictors"]}
    return str(predictors["baseline"]["graph"]["modelUri"])


def _promote(kubectl: Kubectl, namespace: str, deployment: str) -> dict[str, Any]:
    rollout = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "churn-v1"},
        "spec": {
            "candidate": "churn-v1",
            "target": {"seldonDeployment": {"name": deployment}},
            "steps": [{"canary": {"weight": 50, "duration": "2s"}}, {"full": {}}],
            "analysis": {"interval": "2s", "window": "20s", "onNoData": "wait"},
        },
    }
    kubectl.apply(yaml.safe_dump(rollout), "-n", namespace)
    return _rollout_once(kubectl, namespace, "Succeeded", timeout=120, what="its promotion")


def _rollout_once(
    kubectl: Kubectl, namespace: str, phase: str, *, timeout: float, what: str
) -> dict[str, Any]:
    """Rollout churn-v1's status once it is in `phase`."""

    def in_phase() -> dict[str, Any] | None:
        found = kubectl.get_json(ROLLOUT, "churn-v1", "-n", namespace).get("status") or {}
        return found if found.get("phase") == phase else None

    status: dict[str, Any] = wait_for(in_phase, timeout=timeout, what=f"churn-v1: {what}")
    return status


@dataclass(frozen=True)
class Promoted:
    """churn-v1, signed off and promoted by its Rollout over a previous production version."""

    namespace: str
    model: str  # the registered model
    deployment: str
    staged: dict[str, Any]  # churn-v1 as it was staged
    previous_uri: str
    candidate_uri: str


def _promoted(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> Promoted:
    namespace = f"t-{uuid.uuid4().hex[:10]}"
    kubectl.run("create", "namespace", namespace)
    write_churn_data(paved_operator.data_root / namespace)
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"
    view["spec"]["materialization"]["enabled"] = False
    model_version = copy.deepcopy(example("02-modelversion.yaml"))
    model_version["spec"]["labels"]["path"] = "churn_labels.parquet"
    model_version["spec"]["gates"]["metric"]["minValue"] = 0.6
    kubectl.apply(yaml.safe_dump_all([view, model_version]), "-n", namespace)
    staged = wait_for_condition(
        kubectl, "modelversion.paved.dev", "churn-v1", namespace, "GatesPassed", "True", timeout=240
    )
    model = registered_model_name(namespace, model_version["spec"]["model"])
    previous_uri = register_production_rule(endpoints, model)
    deployment = "churn"
    graph = {"name": "classifier", "modelUri": previous_uri}
    seldon = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": deployment},
        "spec": {"predictors": [{"name": "baseline", "traffic": 100, "graph": graph}]},
    }
    kubectl.apply(yaml.safe_dump(seldon), "-n", namespace)
    sign_off(kubectl, local_platform, namespace, "churn-v1")
    _promote(kubectl, namespace, deployment)
    candidate_uri = staged["status"]["registry"]["uri"]
    assert _baseline_model(kubectl, deployment, namespace) == candidate_uri
    return Promoted(namespace, model, deployment, staged, previous_uri, candidate_uri)


def test_lineage_of_a_promoted_model_then_a_revert_in_one_command(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> None:
    promoted = _promoted(paved_operator, kubectl, endpoints, local_platform)
    namespace, model, deployment = promoted.namespace, promoted.model, promoted.deployment
    staged, previous_uri = promoted.staged, promoted.previous_uri
    candidate_uri = promoted.candidate_uri
    client = MlflowClient(endpoints.mlflow)
    version = staged["status"]["registry"]["version"]
    wait_for(
        lambda: client.get_model_version(model, version).tags.get("paved.approved_by") == "alice",
        timeout=30,
        what="the sign-off on the registry version",
    )

    # The whole chain, read live: every link present, with its numbers.
    whole = _paved(endpoints, "lineage", f"seldondeployment/{deployment}", "-n", namespace)
    assert whole.returncode == 0, whole.stdout + whole.stderr
    print(whole.stdout)
    for said in (
        f"baseline: 100% → {candidate_uri}",
        "churn-v1 (candidate churn-v1): Succeeded",
        f"{model} version {version}, Production (ModelVersion churn-v1)",
        "by alice at",
        "verified: the API server recorded the authors",
        "run ",
        staged["status"]["lineage"]["datasetHash"],
        "event watermark",
        "complete: every link is present",
    ):
        assert said in whole.stdout, said
    as_json = json.loads(
        _paved(endpoints, "lineage", "modelversion/churn-v1", "-n", namespace, "-o", "json").stdout
    )
    assert as_json["complete"] is True
    assert [link["kind"] for link in as_json["links"]][:3] == [
        "traffic",
        "rollouts",
        "registryVersion",
    ]

    # Remove one link: the chain says it is missing instead of looking whole.
    removed = [{"op": "remove", "path": "/spec/approval/signOff"}]
    patch = f"-p={json.dumps(removed)}"
    kubectl.run(
        "patch", "modelversion.paved.dev", "churn-v1", "-n", namespace, "--type=json", patch
    )
    broken = _paved(endpoints, "lineage", f"seldondeployment/{deployment}", "-n", namespace)
    assert broken.returncode == 1
    assert "MISSING: ModelVersion churn-v1 has no sign-off" in broken.stdout
    assert "INCOMPLETE: 1 link(s) missing: signOff" in broken.stdout

    # One command back to the previous production version, timed from command to restored.
    reverted = _paved(
        endpoints, "model", "revert", "churn", "-n", namespace, "--reason", "AUC fell in production"
    )
    assert reverted.returncode == 0, reverted.stdout + reverted.stderr
    print(reverted.stdout)
    assert "traffic and registry restored in" in reverted.stdout
    assert _baseline_model(kubectl, deployment, namespace) == previous_uri
    production = client.get_model_version_by_alias(model, "production")
    assert client.get_model_version_download_uri(model, production.version) == previous_uri
    # The registry version is beside the storage URI, where lineage reads it.
    restored = kubectl.get_json("seldondeployment", deployment, "-n", namespace)
    assert restored["spec"]["predictors"][0]["annotations"] == {
        "paved.dev/model": model,
        "paved.dev/model-version": production.version,
    }
    # MLflow alone tells what happened to churn-v1's version.
    tags = client.get_model_version(model, version).tags
    assert tags["paved.stage"] == "Archived"
    assert json.loads(tags[REVERTED_TAG])["reason"].startswith("AUC fell in production")
    assert json.loads(tags[rollout_tag("churn-v1")])["outcome"] == "Succeeded"
    assert tags[REPLACED_TAG] == production.version
    assert tags["paved.approved_by"] == "alice"
    rollout = kubectl.get_json(ROLLOUT, "churn-v1", "-n", namespace)["status"]
    assert rollout["phase"] == "RolledBack"
    wait_for(
        lambda: (
            kubectl.get_json("modelversion.paved.dev", "churn-v1", "-n", namespace)["status"][
                "phase"
            ]
            == "Archived"
        ),
        timeout=60,
        what="churn-v1 to show Archived",
    )
    # The reverted version's chain no longer starts in the traffic.
    gone = _paved(endpoints, "lineage", "modelversion/churn-v1", "-n", namespace)
    assert gone.returncode == 1
    assert f"does not serve {candidate_uri} now" in gone.stdout
    # Archived is restorable only by a revert, and nothing promoted is left to revert.
    again = _paved(endpoints, "model", "revert", "churn", "-n", namespace)
    assert again.returncode == 1
    assert "is production" in again.stderr


def test_a_monitor_reverts_a_production_model_that_breaks_a_hard_guardrail(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> None:
    promoted = _promoted(paved_operator, kubectl, endpoints, local_platform)
    namespace = promoted.namespace
    # A business guardrail in production: the share of refunds (here a constant above its max).
    rule = {"name": "refundRate", "query": "vector(0.3)", "max": 0.1}
    monitor = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "ModelMonitor",
        "metadata": {"name": "churn"},
        "spec": {
            "model": "churn",
            "target": {"seldonDeployment": {"name": promoted.deployment}},
            "interval": "5s",
            "guardrails": {"rules": [rule]},
            "actions": {"revert": {"when": ["GuardrailBreached"]}},
        },
    }
    kubectl.apply(yaml.safe_dump(monitor), "-n", namespace)

    asked = wait_for_condition(
        kubectl, "modelmonitor.paved.dev", "churn", namespace, "Revert", "True", timeout=60
    )
    record = asked["status"]["revert"]
    assert (record["rollout"], record["trigger"]) == ("churn-v1", "GuardrailBreached")
    assert "refundRate 0.3 > 0.1" in record["evidence"]
    rolled_back = _rollout_once(
        kubectl, namespace, "RolledBack", timeout=60, what="the revert carried out"
    )
    assert rolled_back["reverted"].startswith("ModelMonitor churn: GuardrailBreached: refundRate")
    assert _baseline_model(kubectl, promoted.deployment, namespace) == promoted.previous_uri
    client = MlflowClient(endpoints.mlflow)
    production = client.get_model_version_by_alias(promoted.model, "production")
    assert client.get_model_version_download_uri(promoted.model, production.version) == (
        promoted.previous_uri
    )
    # Now it watches the version put back, and asks nothing more of the Rollout.
    watching = wait_for(
        lambda: (
            (
                (m := kubectl.get_json("modelmonitor.paved.dev", "churn", "-n", namespace))
                and m["status"].get("modelVersion") == production.version
                and m
            )
            or None
        ),
        timeout=60,
        what="the monitor to watch the restored version",
    )
    assert (
        watching["status"]["revert"]["version"] == promoted.staged["status"]["registry"]["version"]
    )
