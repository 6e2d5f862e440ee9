"""Run the platform's own kubectl (the version built with the API server) as a user would."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Kubectl:
    binary: Path
    kubeconfig: Path

    def run(
        self, *args: str, stdin: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.binary), f"--kubeconfig={self.kubeconfig}", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}"
            )
        return result

    def apply(
        self, manifest: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return self.run("apply", "-f", "-", *args, stdin=manifest, check=check)

    def get_json(self, *args: str) -> Any:
        return json.loads(self.run("get", "-o", "json", *args).stdout)

    def events_about(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """The events posted about the object `name` in `namespace`."""
        selector = f"--field-selector=involvedObject.name={name}"
        events: list[dict[str, Any]] = self.get_json("events", "-n", namespace, selector)["items"]
        return events


def as_service_account(admin: Kubectl, namespace: str, name: str, directory: Path) -> Kubectl:
    """kubectl with the ServiceAccount `namespace`/`name`'s token, as its pod would have it."""
    token = admin.run("create", "token", name, f"--namespace={namespace}").stdout.strip()
    (cluster,) = yaml.safe_load(admin.kubeconfig.read_text())["clusters"]
    account = f"system:serviceaccount:{namespace}:{name}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": cluster["name"], "user": account}}],
        "current-context": account,
    }
    path = directory / f"{namespace}-{name}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return Kubectl(admin.binary, path)


def allowed(
    kubectl: Kubectl,
    user: str,
    group: str,
    resource: str,
    verb: str,
    subresource: str = "",
    *,
    namespace: str = "any",
) -> bool:
    """Ask the API server's authorizer directly (a SubjectAccessReview): no discovery needed,
    so it also answers for resources whose CRDs this cluster does not have (Seldon's)."""
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": user,
            "groups": ["system:serviceaccounts", "system:authenticated"],
            "resourceAttributes": {
                "group": group,
                "resource": resource,
                "verb": verb,
                "subresource": subresource,
                "namespace": namespace,
            },
        },
    }
    answer = kubectl.run("create", "-f", "-", "-o", "json", stdin=json.dumps(review))
    verdict: bool = json.loads(answer.stdout)["status"]["allowed"]
    return verdict
