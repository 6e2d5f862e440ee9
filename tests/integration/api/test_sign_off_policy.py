"""Sign-off is checked by the API server: an approval records the very user who makes it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from paved.local.platform import LocalPlatform
from tests.support.kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[3]
PAVED = str(Path(sys.executable).parent / "paved")

pytestmark = pytest.mark.usefixtures("paved_crds")


@pytest.fixture
def model_version(kubectl: Kubectl, namespace: str) -> str:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "02-modelversion.yaml"))
    # Approvers and everyone else may edit ModelVersions; only the policy tells them apart.
    kubectl.run(
        "create", "role", "edit-models", "--verb=get,patch,update",
        "--resource=modelversions.paved.dev", "-n", namespace,
    )  # fmt: skip
    kubectl.run(
        "create", "rolebinding", "edit-models", "--role=edit-models",
        "--group=ml-approvers", "--group=analysts", "-n", namespace,
    )  # fmt: skip
    return "churn-v1"


def _sign(kubectl: Kubectl, namespace: str, name: str, by: str, *identity: str) -> str:
    patch = {"spec": {"approval": {"signOff": {"by": by, "comment": "looks good"}}}}
    result = kubectl.run(
        "patch", "modelversion.paved.dev", name, "-n", namespace, "--type=merge",
        "-p", json.dumps(patch), *identity, check=False,
    )  # fmt: skip
    return result.stderr if result.returncode else "admitted"


def test_an_approver_signs_off_as_themselves(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    alice = ("--as=alice", "--as-group=ml-approvers")
    assert _sign(kubectl, namespace, model_version, "alice", *alice) == "admitted"
    stored = kubectl.get_json("modelversion.paved.dev", model_version, "-n", namespace)
    assert stored["spec"]["approval"]["signOff"]["by"] == "alice"


def test_nobody_signs_off_in_someone_elses_name(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    refused = _sign(
        kubectl, namespace, model_version, "alice", "--as=bob", "--as-group=ml-approvers"
    )
    assert "spec.approval.signOff.by: bob cannot sign off as alice" in refused


def test_a_user_outside_the_approver_groups_cannot_sign_off(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    refused = _sign(kubectl, namespace, model_version, "carol", "--as=carol", "--as-group=analysts")
    assert "carol is not in an approver group (ml-approvers)" in refused


def test_other_edits_after_a_sign_off_are_not_blocked(
    kubectl: Kubectl, namespace: str, model_version: str
) -> None:
    _sign(kubectl, namespace, model_version, "alice", "--as=alice", "--as-group=ml-approvers")
    # A colleague tunes a gate later: the recorded sign-off is untouched, so it is admitted.
    edited = kubectl.run(
        "patch", "modelversion.paved.dev", model_version, "-n", namespace, "--type=merge",
        "-p", '{"spec": {"gates": {"drift": {"maxPsi": 0.25}}}}', "--as=dave",
        "--as-group=analysts",
    )  # fmt: skip
    assert edited.returncode == 0


def test_paved_approve_signs_off_as_the_authenticated_user(
    kubectl: Kubectl, namespace: str, model_version: str, local_platform: LocalPlatform
) -> None:
    alice = local_platform.user_kubeconfig("alice@example.com", ("ml-approvers",))
    approved = subprocess.run(
        [PAVED, "approve", model_version, "-n", namespace, "--comment", "AUC holds",
         f"--kubeconfig={alice}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    sign_off = kubectl.get_json("modelversion.paved.dev", model_version, "-n", namespace)["spec"][
        "approval"
    ]["signOff"]
    assert sign_off == {"by": "alice@example.com", "comment": "AUC holds"}

    mallory = local_platform.user_kubeconfig("mallory", ("analysts",))
    refused = subprocess.run(
        [PAVED, "approve", model_version, "-n", namespace, f"--kubeconfig={mallory}"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode == 1
    assert "mallory is not in an approver group" in refused.stderr
