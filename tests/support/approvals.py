"""A person other than the ModelVersion's author signs it off, as `paved approve` does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from paved_local.platform import LocalPlatform
from tests.support.kubectl import Kubectl

PAVED = str(Path(sys.executable).parent / "paved")


def sign_off(
    kubectl: Kubectl, local_platform: LocalPlatform, namespace: str, model_version: str
) -> None:
    """alice, an approver, signs `model_version` off for production (again, if she had)."""
    kubectl.apply(approvers_may_approve(), "-n", namespace)
    alice = local_platform.user_kubeconfig("alice", ("ml-approvers",))
    approve(alice, namespace, model_version)


def approvers_may_approve() -> str:
    """A Role and RoleBinding: the group ml-approvers may sign ModelVersions off."""
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "approve"},
        "rules": [
            {"apiGroups": ["paved.dev"], "resources": ["modelversions"], "verbs": ["get", "patch"]}
        ],
    }
    binding = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "approve"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "approve"},
        "subjects": [
            {"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "ml-approvers"}
        ],
    }
    return yaml.safe_dump_all([role, binding])


def approve(kubeconfig: Path, namespace: str, model_version: str) -> None:
    """`paved approve` as the user `kubeconfig` authenticates."""
    approved = subprocess.run(
        [PAVED, "approve", model_version, "-n", namespace, f"--kubeconfig={kubeconfig}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert approved.returncode == 0, approved.stderr
