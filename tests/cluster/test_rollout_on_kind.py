"""examples/ on the kind cluster, as a team applies them: the data loaded by its Job, the
SeldonDeployment served by the data plane's Pod from its storage URI, the FeatureView
materialized, the ModelVersion trained and gated by the operator's Pod and signed off by an
approver. A Rollout walks it live under real traffic (through a port-forward) while the leading
operator's Pod is deleted mid-canary: the standby goes on at the same step and split. A second
version that fails requests is rolled back.

Seldon Core's controller is not served here: the data plane (a Pod of charts/paved-platform)
is its stand-in, held to the SeldonDeployment contract by the data plane's own tests. (With
model servers as Pods, ADR 0032, this Rollout does not pass yet.)"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from paved_local.cluster import KindCluster
from tests.cluster.conftest import NAMESPACE, TEAM, apply_manifest, get_object, port_forward
from tests.support.approvals import approve, approvers_may_approve
from tests.support.churn_data import serving_examples, write_churn_data
from tests.support.docker import ROOT
from tests.support.traffic import steady_load_at
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster


@contextmanager
def _under_load(cluster: KindCluster, data: Path) -> Iterator[str]:
    """20 requests a second on `churn` (with feedback) through a port-forward to the data
    plane's Service, for the length of the `with`; the forwarded data plane's URL."""
    write_churn_data(data)
    with (
        port_forward(cluster, "service/dataplane", 8000) as dataplane,
        steady_load_at(dataplane, TEAM, "churn", serving_examples(data), rate=20),
    ):
        yield dataplane


def _model_version(cluster: KindCluster, name: str, seed: int) -> dict[str, Any]:
    """examples/02-modelversion.yaml as `name`, trained with `seed`, gated and signed off."""
    manifest = yaml.safe_load((ROOT / "examples" / "02-modelversion.yaml").read_text())
    manifest["metadata"]["name"] = name
    manifest["spec"]["pipeline"]["seed"] = seed
    apply_manifest(cluster, manifest)
    staged = wait_for(
        lambda: (
            (mv := get_object(cluster, "modelversion", name)).get("status", {}).get("phase")
            in ("Staging", "Held", "Failed")
            and mv
        ),
        timeout=600,
        what=f"{name} to be trained and gated in the operator's Pod",
    )
    assert staged["status"]["phase"] == "Staging", staged["status"]
    approve(cluster.user_kubeconfig("alice", ("ml-approvers",)), TEAM, name)
    return staged


def _rollout(name: str, candidate: str, canary: str) -> dict[str, Any]:
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "candidate": candidate,
            "target": {"seldonDeployment": {"name": "churn"}},
            "steps": [
                {"shadow": {"duration": "5s"}},
                {"canary": {"weight": 20, "duration": canary}},
                {"full": {}},
            ],
            "guardrails": [{"builtin": "errorRate", "max": 0.05}],
            "analysis": {
                "interval": "2s",
                "window": "30s",
                "minSamples": 5,
                "failureLimit": 0,
                "onNoData": "wait",
            },
        },
    }


def _status(cluster: KindCluster, rollout: str) -> dict[str, Any]:
    status: dict[str, Any] = get_object(cluster, "rollout", rollout).get("status", {})
    return status


def _finished(cluster: KindCluster, rollout: str) -> dict[str, Any]:
    """The Rollout's status once it has Succeeded or been RolledBack."""
    return wait_for(
        lambda: (s := _status(cluster, rollout)).get("phase") in ("Succeeded", "RolledBack") and s,
        timeout=300,
        what=f"rollout {rollout} to finish",
    )


def _leader(cluster: KindCluster) -> str:
    """The operator Pod kopf's peering lets act: the highest priority."""
    peering = cluster.kubectl("get", "clusterkopfpeering", "paved", "-o", "json", capture=True)
    peers = json.loads(peering)["status"]
    key = max(peers, key=lambda k: peers[k]["priority"])
    return str(key.split("@", 1)[1].split("/", 1)[0])


@pytest.fixture(scope="module")
def examples_applied(example_data: KindCluster) -> Iterator[KindCluster]:
    """examples/data loaded, then examples/00 and 01 applied as they are."""
    installed = example_data
    for example in ("00-seldondeployment.yaml", "01-featureview.yaml"):
        installed.kubectl("-n", TEAM, "apply", "-f", str(ROOT / "examples" / example))
    installed.kubectl("apply", "-n", TEAM, "-f", "-", stdin=approvers_may_approve())
    yield installed
    for kind in ("rollouts", "modelversions", "featureviews", "seldondeployments"):
        installed.kubectl("-n", TEAM, "delete", kind, "--all", "--wait=false", check=False)


def test_a_model_goes_live_while_its_leader_operator_dies_mid_canary(
    examples_applied: KindCluster, tmp_path: Path
) -> None:
    cluster = examples_applied
    staged = _model_version(cluster, "churn-v1", seed=42)

    with _under_load(cluster, tmp_path):
        apply_manifest(cluster, _rollout("churn-v1", "churn-v1", canary="120s"))
        in_canary = wait_for(
            # The step's clock starts once the router shows its split.
            lambda: (
                (s := _status(cluster, "churn-v1")).get("currentStepKind") == "canary"
                and s.get("stepStartedAt")
                and s.get("lastAnalysisAt")
                and s
            ),
            timeout=300,
            what="the rollout to reach its canary and analyse it",
        )
        leader = _leader(cluster)
        deleted_at = time.monotonic()
        cluster.kubectl("-n", NAMESPACE, "delete", "pod", leader, "--wait=false")

        resumed = wait_for(
            lambda: (
                (s := _status(cluster, "churn-v1")).get("lastAnalysisAt")
                != in_canary["lastAnalysisAt"]
                and _leader(cluster) != leader
                and s
            ),
            timeout=180,
            what="the standby operator to analyse the rollout",
        )
        print(f"standby resumed {time.monotonic() - deleted_at:.1f} s after the leader's delete")
        assert resumed["currentStep"] == in_canary["currentStep"]
        assert resumed["stepStartedAt"] == in_canary["stepStartedAt"]
        assert resumed["traffic"] == in_canary["traffic"]

        done = _finished(cluster, "churn-v1")
    assert done["phase"] == "Succeeded", done
    assert done["traffic"]["candidate"] == 100
    predictors = get_object(cluster, "seldondeployment", "churn")["spec"]["predictors"]
    assert [p["graph"]["modelUri"] for p in predictors] == [staged["status"]["registry"]["uri"]]
    # The ModelVersion controller learns of the promotion from the registry on its next look.
    wait_for(
        lambda: get_object(cluster, "modelversion", "churn-v1")["status"]["phase"] == "Production",
        timeout=120,
        what="churn-v1 to show Production",
    )


def test_a_version_that_fails_requests_is_rolled_back(
    examples_applied: KindCluster, tmp_path: Path
) -> None:
    cluster = examples_applied
    candidate = _model_version(cluster, "churn-v2", seed=7)

    with _under_load(cluster, tmp_path) as dataplane:
        # The candidate fails 30% of what it serves live (its shadow copy is healthy).
        uri = candidate["status"]["registry"]["uri"]
        fault = {"modelUri": uri, "predictor": "candidate", "errorRate": 0.3}
        httpx.put(f"{dataplane}/v1/faults", json=fault).raise_for_status()
        apply_manifest(cluster, _rollout("churn-v2", "churn-v2", canary="10m"))
        done = _finished(cluster, "churn-v2")
    assert done["phase"] == "RolledBack", done
    assert done["traffic"] == {"baseline": 100, "candidate": 0, "shadow": False}
    predictors = get_object(cluster, "seldondeployment", "churn")["spec"]["predictors"]
    assert [p["name"] for p in predictors] == ["baseline"]
