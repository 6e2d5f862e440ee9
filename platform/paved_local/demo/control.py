"""The processes and the cluster the demo drives: the API server as a user touches it (kubectl
and reads), an operator for the demo's namespace alone, and the load on the served model."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved.adapters.kubernetes_api import api_client
from paved.api.crds import ALL_KINDS, render, render_policies
from paved_local.dataplane.load import Example, LoadStats, generate_load
from paved_local.demo.errors import DemoError
from paved_local.platform import Endpoints

GROUP: Final = "paved.dev"
VERSION: Final = "v1alpha1"


class DemoCluster:
    """The API server, touched as a user would: kubectl for changes, the client for reads."""

    def __init__(self, endpoints: Endpoints, namespace: str) -> None:
        self.endpoints = endpoints
        self.namespace = namespace
        self.objects = client.CustomObjectsApi(api_client(str(endpoints.kubeconfig)))

    def kubectl(self, *arguments: str, stdin: str | None = None) -> str:
        bin_dirs = (Path(d) for d in self.endpoints.bin_dirs)
        kubectl = next((d / "kubectl" for d in bin_dirs if (d / "kubectl").is_file()), None)
        if kubectl is None:
            raise DemoError("no kubectl in the local toolchain: run `paved local up` once")
        done = _run([str(kubectl), f"--kubeconfig={self.endpoints.kubeconfig}", *arguments], stdin)
        if done.returncode != 0:
            raise DemoError(f"kubectl {' '.join(arguments)}: {done.stderr.strip()}")
        return done.stdout

    def paved(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        """The `paved` command as a user runs it against the platform (`python -m paved` of
        this environment): its exit code is the caller's to judge."""
        kubeconfig = f"--kubeconfig={self.endpoints.kubeconfig}"
        return _run([sys.executable, "-m", "paved", *arguments, kubeconfig], None)

    def apply(self, document: dict[str, Any]) -> None:
        self.kubectl("apply", "-n", self.namespace, "-f", "-", stdin=yaml.safe_dump(document))

    async def get(self, plural: str, name: str) -> dict[str, Any]:
        """The demo's namespace's `plural`/`name`, or {} when there is none."""
        try:
            found: dict[str, Any] = await asyncio.to_thread(
                self.objects.get_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                plural,
                name,
            )
        except ApiException as error:
            if error.status == 404:
                return {}
            raise
        return found

    def install_crds(self) -> None:
        """paved's CRDs and sign-off policy, as `make crds` renders them."""
        documents = [render(kind) for kind in ALL_KINDS] + [render_policies()]
        apply = ("apply", "--server-side", "--force-conflicts", "-f", "-")
        self.kubectl(*apply, stdin="---\n".join(documents))
        for kind in ALL_KINDS:
            established = ("--for=condition=Established", f"crd/{kind.crd_name}")
            self.kubectl("wait", *established, "--timeout=60s")

    def create_namespace(self, approvers: str) -> None:
        """The demo's namespace, where the group `approvers` may sign off."""
        self.kubectl("create", "namespace", self.namespace)
        role = ("--verb=get,patch", "--resource=modelversions.paved.dev")
        self.kubectl("create", "role", "approve", *role, "-n", self.namespace)
        binding = ("--role=approve", f"--group={approvers}")
        self.kubectl("create", "rolebinding", "approve", *binding, "-n", self.namespace)


def _run(command: list[str], stdin: str | None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)


class Load:
    """Requests to the served model at a steady rate, in the background, until stopped."""

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._task: asyncio.Task[LoadStats] | None = None

    def start(
        self,
        endpoints: Endpoints,
        namespace: str,
        deployment: str,
        *,
        examples: Sequence[Example],
        rate: float,
    ) -> None:
        self._stop = asyncio.Event()  # a load started again after a stop runs until the next
        self._task = asyncio.create_task(
            generate_load(endpoints.dataplane, namespace, deployment, examples, rate, self._stop)
        )

    async def stop(self) -> LoadStats | None:
        """What the load did, or None when it never started."""
        self._stop.set()
        return None if self._task is None else await self._task
