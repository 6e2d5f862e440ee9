"""Two operator replicas share the work through kopf peering: one reconciles, the other stands
by, and takes over when the first one dies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
import yaml

from paved_local.platform import Endpoints
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

LIFETIME_SECONDS = 10  # how long a crashed leader's entry holds the standby back


def _rollout(name: str) -> str:
    """A Rollout whose candidate does not exist: cheap to reconcile, and its status shows it."""
    return yaml.safe_dump(
        {
            "apiVersion": "paved.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": name},
            "spec": {
                "candidate": "not-trained",
                "target": {"seldonDeployment": {"name": "nowhere"}},
                "steps": [{"full": {}}],
                "guardrails": [{"builtin": "errorRate", "max": 0.05}],
            },
        }
    )


@pytest.fixture
def peered_namespace(kubectl: Kubectl, paved_crds: None) -> Iterator[str]:
    # Not t-*: the session's operator must not take part.
    namespace = f"peer-{uuid.uuid4().hex[:8]}"
    kubectl.run("create", "namespace", namespace)
    peering = {"apiVersion": "kopf.dev/v1", "kind": "KopfPeering", "metadata": {"name": "paved"}}
    kubectl.apply(yaml.safe_dump(peering), "-n", namespace)
    yield namespace
    kubectl.run("delete", "namespace", namespace, "--wait=false")


def test_a_standby_replica_takes_over_when_the_active_one_dies(
    kubectl: Kubectl,
    endpoints: Endpoints,
    operator_kubeconfig: Path,
    peered_namespace: str,
    tmp_path: Path,
) -> None:
    def replica(name: str) -> RunningOperator:
        (tmp_path / name).mkdir()
        return RunningOperator(
            endpoints,
            tmp_path / name,
            operator_kubeconfig,
            namespaces=[peered_namespace],
            options=["--peering=paved"],
            environment={"PAVED_PEERING_LIFETIME_SECONDS": str(LIFETIME_SECONDS)},
        )

    active, standby = replica("active"), replica("standby")
    active.start()
    standby.start()  # the later one: the active one keeps the lead
    try:
        peering = partial(kubectl.get_json, "kopfpeering", "paved", "-n", peered_namespace)
        wait_for(
            lambda: len(peering().get("status") or {}) == 2,
            timeout=60,
            what="both replicas in the peering object",
        )
        kubectl.apply(_rollout("before"), "-n", peered_namespace)
        wait_for_condition(
            kubectl,
            "rollout.paved.dev",
            "before",
            peered_namespace,
            "Accepted",
            "False",
            timeout=60,
        )
        seen = active.reconciles("Rollout")
        wait_for(
            lambda: active.reconciles("Rollout") >= seen + 5,
            timeout=60,
            what="the active replica to go on reconciling",
        )
        assert standby.reconciles("Rollout") == 0, "the standby reconciled while the lead lived"

        active.stop(crash=True)
        wait_for(
            lambda: standby.reconciles("Rollout") > 0,
            timeout=LIFETIME_SECONDS + 60,
            what="the standby to take over",
        )
        kubectl.apply(_rollout("after"), "-n", peered_namespace)
        taken_over = wait_for_condition(
            kubectl, "rollout.paved.dev", "after", peered_namespace, "Accepted", "False", timeout=60
        )
        assert "not-trained" in (condition(taken_over, "Accepted") or {})["message"]
    finally:
        active.stop()
        standby.stop()
