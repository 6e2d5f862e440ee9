"""The operator skeleton: every resource is accepted or told exactly what it is waiting for."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import yaml

from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = {
    "FeatureView": "user-activity-v1",
    "ModelVersion": "churn-v1",
    "Rollout": "churn-v1",
}

pytestmark = pytest.mark.usefixtures("paved_operator")


def _kind(kind: str) -> str:
    return f"{kind.lower()}.paved.dev"


def test_every_example_gets_observed_generation_and_accepted(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples"))
    for kind, name in EXAMPLES.items():
        resource = wait_for_condition(kubectl, _kind(kind), name, namespace, "Accepted", "True")
        assert resource["status"]["observedGeneration"] == resource["metadata"]["generation"] == 1
        accepted = condition(resource, "Accepted")
        assert accepted is not None
        assert accepted["reason"] == "Accepted"
        assert accepted["observedGeneration"] == 1


@pytest.mark.parametrize(
    "apply",
    [[], ["--server-side", "--field-manager=argocd-controller"]],
    ids=["client-side-apply", "server-side-apply"],
)
def test_resources_applied_from_git_show_no_diff_once_reconciled(
    kubectl: Kubectl, namespace: str, apply: list[str]
) -> None:
    """What Argo CD checks for drift, with either of its apply modes: the operator writes status
    only, and the defaults are in the CRD schema (set by the API server), so the live objects
    still match git once the operator has reconciled them."""
    kubectl.run("apply", *apply, "-n", namespace, "-f", str(ROOT / "examples"))
    for kind, name in EXAMPLES.items():
        wait_for_condition(kubectl, _kind(kind), name, namespace, "Accepted", "True")
    diff = kubectl.run("diff", *apply, "-n", namespace, "-f", str(ROOT / "examples"), check=False)
    assert diff.returncode == 0, diff.stdout + diff.stderr


def test_a_spec_change_bumps_observed_generation(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "01-featureview.yaml"))
    wait_for_condition(
        kubectl, _kind("FeatureView"), "user-activity-v1", namespace, "Accepted", "True"
    )
    kubectl.run(
        "patch",
        _kind("FeatureView"),
        "user-activity-v1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        '{"spec": {"materialization": {"interval": "5m"}}}',
    )
    resource = wait_for_condition(
        kubectl,
        _kind("FeatureView"),
        "user-activity-v1",
        namespace,
        "Accepted",
        "True",
        generation=2,
    )
    assert resource["status"]["observedGeneration"] == 2


def test_a_missing_reference_is_named_and_resolves_when_it_appears(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "02-modelversion.yaml"))
    waiting = wait_for_condition(
        kubectl, _kind("ModelVersion"), "churn-v1", namespace, "Accepted", "False"
    )
    accepted = condition(waiting, "Accepted")
    assert accepted is not None
    assert accepted["reason"] == "ReferenceNotFound"
    # A model's features come from a FeatureView or, for a hybrid, a BatchPrediction.
    missing = f"FeatureView or BatchPrediction user-activity-v1 in namespace {namespace}"
    assert missing in accepted["message"]

    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "01-featureview.yaml"))
    wait_for_condition(
        kubectl, _kind("ModelVersion"), "churn-v1", namespace, "Accepted", "True", timeout=60
    )


def test_a_rollout_of_a_candidate_that_does_not_exist_says_so(
    kubectl: Kubectl, namespace: str
) -> None:
    rollout = yaml.safe_load((ROOT / "examples" / "03-rollout.yaml").read_text())
    rollout["spec"]["candidate"] = "churn-v404"
    rollout["spec"]["baseline"] = "churn-v0"
    kubectl.apply(yaml.safe_dump(rollout), "-n", namespace)
    waiting = wait_for_condition(
        kubectl, _kind("Rollout"), "churn-v1", namespace, "Accepted", "False"
    )
    message = (condition(waiting, "Accepted") or {})["message"]
    assert "ModelVersion churn-v0" in message
    assert "ModelVersion churn-v404" in message


def test_condition_changes_are_posted_as_events(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "02-modelversion.yaml"))

    def reasons() -> set[str] | None:
        events = kubectl.events_about("churn-v1", namespace)
        found = {e["reason"] for e in events}
        return found if "ReferenceNotFound" in found else None

    assert "ReferenceNotFound" in wait_for(reasons, timeout=30, what="a ReferenceNotFound event")


def test_operator_serves_liveness_and_its_own_metrics(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str
) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "01-featureview.yaml"))
    wait_for_condition(
        kubectl, _kind("FeatureView"), "user-activity-v1", namespace, "Accepted", "True"
    )
    assert httpx.get(paved_operator.health_url).status_code == 200
    metrics = httpx.get(paved_operator.metrics_url).text
    assert 'paved_reconcile_total{kind="FeatureView",result="ok"}' in metrics
    assert "paved_reconcile_duration_seconds_bucket" in metrics


def test_a_batch_prediction_is_refused_the_name_of_a_feature_view_served_online(
    kubectl: Kubectl, namespace: str
) -> None:
    """Both would serve under one online name: the later is not accepted, and says who holds it."""
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "01-featureview.yaml"))
    wait_for_condition(
        kubectl, _kind("FeatureView"), "user-activity-v1", namespace, "Accepted", "True"
    )
    scores = yaml.safe_load((ROOT / "examples" / "04-batchprediction.yaml").read_text())
    scores["metadata"]["name"] = "user-activity-v1"
    kubectl.apply(yaml.safe_dump(scores), "-n", namespace)

    refused = wait_for_condition(
        kubectl, _kind("BatchPrediction"), "user-activity-v1", namespace, "Accepted", "False"
    )
    accepted = condition(refused, "Accepted") or {}
    assert accepted["reason"] == "NameTaken"
    assert accepted["message"].startswith("FeatureView user-activity-v1, created first")
    view = wait_for_condition(
        kubectl, _kind("FeatureView"), "user-activity-v1", namespace, "Accepted", "True"
    )
    assert (condition(view, "Ready") or {}).get("reason") != "NameTaken"
