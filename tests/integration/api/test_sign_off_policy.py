"""Sign-off is checked by the API server: an approval records the very user who makes it, in the
groups the API server knows them by, who neither created nor last changed the spec, for the
registry version and gates results the status shows, in a request that changes no rule it relies
on. Tried as a user would, with the real API server's admission policies."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from paved.api.policies import CREATED_BY, SPEC_CHANGED_BY
from paved_local.platform import LocalPlatform
from tests.support.kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[3]
PAVED = str(Path(sys.executable).parent / "paved")
MV = "modelversion.paved.dev"
TRAINED = {"registry": {"name": "churn", "version": "3"}, "gatesDigest": "sha256:g3"}
ALICE = ("--as=alice", "--as-group=ml-approvers")

pytestmark = pytest.mark.usefixtures("paved_crds")


@pytest.fixture
def model_version(kubectl: Kubectl, namespace: str) -> str:
    """churn-v1, created by the admin (paved-admin) and trained: status names version 3."""
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "02-modelversion.yaml"))
    # Approvers and everyone else may edit ModelVersions; only the policies tell them apart.
    kubectl.run(
        "create",
        "role",
        "edit-models",
        "--verb=get,patch,update",
        "--resource=modelversions.paved.dev",
        "-n",
        namespace,
    )
    kubectl.run(
        "create",
        "rolebinding",
        "edit-models",
        "--role=edit-models",
        "--group=ml-approvers",
        "--group=analysts",
        "--user=paved-admin",
        "-n",
        namespace,
    )
    trained = ("--subresource=status", "--type=merge", "-p", json.dumps({"status": TRAINED}))
    kubectl.run("patch", MV, "churn-v1", "-n", namespace, *trained)
    return "churn-v1"


def _sign(kubectl: Kubectl, namespace: str, *identity: str, **sign_off: Any) -> str:
    document = {"registryVersion": "3", "gatesDigest": "sha256:g3", "comment": "looks good"}
    patch = {"spec": {"approval": {"signOff": document | sign_off}}}
    return _patch(kubectl, namespace, patch, *identity)


def _patch(kubectl: Kubectl, namespace: str, patch: dict[str, Any], *identity: str) -> str:
    result = kubectl.run(
        "patch",
        MV,
        "churn-v1",
        "-n",
        namespace,
        "--type=merge",
        "-p",
        json.dumps(patch),
        *identity,
        check=False,
    )
    return result.stderr if result.returncode else "admitted"


def test_an_approver_signs_off_as_themselves(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    signed = _sign(kubectl, namespace, *ALICE, by="alice", groups=["ml-approvers"])
    assert signed == "admitted"
    stored = kubectl.get_json(MV, model_version, "-n", namespace)
    assert stored["spec"]["approval"]["signOff"]["by"] == "alice"


def test_nobody_signs_off_in_someone_elses_name(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    refused = _sign(kubectl, namespace, "--as=bob", "--as-group=ml-approvers", by="alice")
    assert "spec.approval.signOff.by: bob cannot sign off as alice" in refused


def test_a_user_outside_the_approver_groups_cannot_sign_off(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    refused = _sign(kubectl, namespace, "--as=carol", "--as-group=analysts", by="carol")
    assert "carol is not in an approver group (ml-approvers)" in refused


def test_groups_the_api_server_does_not_know_are_refused(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    refused = _sign(
        kubectl, namespace, "--as=carol", "--as-group=analysts", by="carol", groups=["ml-approvers"]
    )
    assert "carol is not in every group listed" in refused


def test_the_rules_cannot_be_rewritten_in_the_request_that_signs(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    """Tried as a new user would: set the approver groups to one's own and sign in one patch."""
    patch = {
        "spec": {
            "approval": {
                "approverGroups": ["analysts"],
                "signOff": {"by": "carol", "registryVersion": "3", "gatesDigest": "sha256:g3"},
            }
        }
    }
    refused = _patch(kubectl, namespace, patch, "--as=carol", "--as-group=analysts")
    assert "cannot change in the request that signs" in refused
    # Nor loosen a gate while signing (the gates are what the sign-off approves).
    sign_off = {
        "by": "alice",
        "registryVersion": "3",
        "gatesDigest": "sha256:g3",
        "groups": ["ml-approvers"],
    }
    loosened = {"spec": {"gates": {"golden": []}, "approval": {"signOff": sign_off}}}
    assert "cannot change in the request that signs" in _patch(kubectl, namespace, loosened, *ALICE)


def test_approval_required_false_is_not_the_authors_to_set(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    refused = _patch(kubectl, namespace, {"spec": {"approval": {"required": False}}}, *ALICE)
    # Pruned as an unknown field: nothing in a ModelVersion can waive the sign-off.
    stored = kubectl.get_json(MV, model_version, "-n", namespace)
    assert "required" not in stored["spec"]["approval"], refused


def test_a_sign_off_must_name_what_the_status_shows(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    refused = _sign(kubectl, namespace, *ALICE, by="alice", registryVersion="2")
    assert "must name the registry version and gates digest the status shows now (3" in refused
    refused = _sign(kubectl, namespace, *ALICE, by="alice", gatesDigest="sha256:other")
    assert "gates digest" in refused


def test_the_author_of_the_spec_may_not_sign_it_off(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    stored = kubectl.get_json(MV, model_version, "-n", namespace)
    assert stored["metadata"]["annotations"][CREATED_BY] == "paved-admin"
    self_approval = _sign(
        kubectl,
        namespace,
        "--as=paved-admin",
        "--as-group=ml-approvers",
        by="paved-admin",
        groups=["ml-approvers"],
    )
    assert "may not sign it off: a second person must (four eyes)" in self_approval
    # Alice changes a gate, so she is the spec's last author now: she may not approve either.
    assert _patch(kubectl, namespace, {"spec": {"gates": {"drift": {"maxPsi": 0.25}}}}, *ALICE)
    changed = kubectl.get_json(MV, model_version, "-n", namespace)["metadata"]["annotations"]
    assert changed[SPEC_CHANGED_BY] == "alice"
    refused = _sign(kubectl, namespace, *ALICE, by="alice", groups=["ml-approvers"])
    assert "four eyes" in refused


def test_nobody_forges_the_authors(kubectl: Kubectl, namespace: str, model_version: str) -> None:
    kubectl.run(
        "annotate",
        MV,
        model_version,
        "-n",
        namespace,
        "--overwrite",
        f"{CREATED_BY}=someone-else",
        f"{SPEC_CHANGED_BY}=someone-else",
        *ALICE,
        check=False,
    )
    annotations = kubectl.get_json(MV, model_version, "-n", namespace)["metadata"]["annotations"]
    assert (annotations[CREATED_BY], annotations[SPEC_CHANGED_BY]) == ("paved-admin",) * 2


def test_other_edits_after_a_sign_off_are_not_blocked(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    _sign(kubectl, namespace, *ALICE, by="alice", groups=["ml-approvers"])
    # A colleague tunes a gate later: admitted (the operator then retrains, voiding the sign-off).
    edited = _patch(
        kubectl,
        namespace,
        {"spec": {"gates": {"drift": {"maxPsi": 0.25}}}},
        "--as=dave",
        "--as-group=analysts",
    )
    assert edited == "admitted"


def test_paved_approve_signs_off_as_the_authenticated_user(
    kubectl: Kubectl, namespace: str, model_version: str, local_platform: LocalPlatform
) -> None:
    alice = local_platform.user_kubeconfig("alice@example.com", ("ml-approvers",))
    approved = subprocess.run(
        [
            PAVED,
            "approve",
            model_version,
            "-n",
            namespace,
            "--comment",
            "AUC holds",
            f"--kubeconfig={alice}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert approved.returncode == 0, approved.stderr
    sign_off = kubectl.get_json(MV, model_version, "-n", namespace)["spec"]["approval"]["signOff"]
    assert sign_off == {
        "by": "alice@example.com",
        "comment": "AUC holds",
        "registryVersion": "3",
        "gatesDigest": "sha256:g3",
        "groups": ["ml-approvers", "system:authenticated"],
    }

    mallory = local_platform.user_kubeconfig("mallory", ("analysts",))
    refused = subprocess.run(
        [PAVED, "approve", model_version, "-n", namespace, f"--kubeconfig={mallory}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 1
    assert "mallory is not in an approver group" in refused.stderr


# -- PromotionPolicy: the platform's rules, with the policy's name in every refusal ------------


@pytest.fixture
def regulated(kubectl: Kubectl, namespace: str) -> Iterator[str]:
    name = f"regulated-{namespace}"
    policy = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "PromotionPolicy",
        "metadata": {"name": name},
        "spec": {
            "namespaces": [namespace],
            "signOff": {"approverGroups": ["risk"]},
            "gates": {"requireSchema": True, "minGoldenCases": 2, "protectedCohorts": ["age_band"]},
            "rollout": {"minShadow": "10m", "minCanary": {"duration": "5m", "weight": 5}},
        },
    }
    kubectl.apply(yaml.safe_dump(policy))
    yield name
    kubectl.run("delete", "promotionpolicy.paved.dev", name, check=False)


def _applied(kubectl: Kubectl, namespace: str, document: dict[str, Any]) -> str:
    result = kubectl.run(
        "apply", "-n", namespace, "-f", "-", stdin=yaml.safe_dump(document), check=False
    )
    return result.stderr if result.returncode else "admitted"


def _example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "examples" / name).read_text())
    return loaded


def test_a_policy_required_gate_missing_is_refused_with_the_policy_name(
    kubectl: Kubectl, namespace: str, regulated: str
) -> None:
    refused = _applied(kubectl, namespace, _example("02-modelversion.yaml"))
    assert f"PromotionPolicy {regulated}: spec.gates.golden: at least 2 golden cases" in refused
    assert kubectl.run("get", MV, "-n", namespace, "-o", "name").stdout == ""


def test_a_shadow_shorter_than_the_policys_is_refused(
    kubectl: Kubectl, namespace: str, regulated: str
) -> None:
    rollout = _example("03-rollout.yaml")
    rollout["spec"]["steps"][0] = {"shadow": {"duration": "2m"}}
    refused = _applied(kubectl, namespace, rollout)
    assert f"PromotionPolicy {regulated}: spec.steps: 10m of shadow" in refused
    full_only = rollout | {"spec": rollout["spec"] | {"steps": [{"full": {}}]}}
    assert "of shadow before an A/B test or full traffic" in _applied(kubectl, namespace, full_only)
    # The example's own steps (10m shadow, 10m canary at 5%) meet it.
    assert _applied(kubectl, namespace, _example("03-rollout.yaml")) == "admitted"


def test_a_signer_outside_the_policys_approver_groups_is_refused(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    name = f"risk-{namespace}"
    policy = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "PromotionPolicy",
        "metadata": {"name": name},
        "spec": {"namespaces": [namespace], "signOff": {"approverGroups": ["risk"]}},
    }
    kubectl.apply(yaml.safe_dump(policy))
    try:
        refused = _sign(kubectl, namespace, *ALICE, by="alice", groups=["ml-approvers"])
        assert f"PromotionPolicy {name}: spec.approval.signOff: alice is not in an approver" in (
            refused
        )
    finally:
        kubectl.run("delete", "promotionpolicy.paved.dev", name)


def test_a_policy_for_another_namespace_does_not_apply(
    kubectl: Kubectl, namespace: str, regulated: str
) -> None:
    other = f"{namespace}-b"
    kubectl.run("create", "namespace", other)
    assert _applied(kubectl, other, _example("02-modelversion.yaml")) == "admitted"


def test_a_policys_regression_limit_is_not_escaped_by_the_relative_form(
    kubectl: Kubectl, namespace: str
) -> None:
    name = f"bounded-{namespace}"
    policy = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "PromotionPolicy",
        "metadata": {"name": name},
        "spec": {"namespaces": [namespace], "gates": {"maxMetricRegression": 0.01}},
    }
    kubectl.apply(yaml.safe_dump(policy))
    try:
        model = _example("02-modelversion.yaml")
        model["spec"]["gates"]["metric"] = {"name": "auc", "maxRelativeRegression": 0.5}
        refused = _applied(kubectl, namespace, model)
        assert f"PromotionPolicy {name}: spec.gates.metric: the regression is bounded" in refused
        model["spec"]["gates"]["metric"] = {"name": "auc", "maxRegression": 0.005}
        assert _applied(kubectl, namespace, model) == "admitted"
    finally:
        kubectl.run("delete", "promotionpolicy.paved.dev", name, check=False)
