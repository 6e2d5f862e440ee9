"""Run the platform's own helm on the repository's charts, and read what they render."""

from __future__ import annotations

import subprocess
import uuid
from pathlib import Path
from typing import Any

import yaml

from paved_local.toolchain import Toolchain

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"
KUBE_VERSION = "--kube-version=1.36.3"


def helm(
    toolchain: Toolchain, *args: str, kubeconfig: Path | None = None
) -> subprocess.CompletedProcess[str]:
    command = [str(toolchain.helm), *args]
    if kubeconfig is not None:
        command.append(f"--kubeconfig={kubeconfig}")
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def template(toolchain: Toolchain, chart: str, *flags: str, namespace: str = "paved") -> str:
    """`helm template` of charts/`chart` into `namespace`; fails the test on an error."""
    rendered = helm(
        toolchain,
        "template",
        "t",
        str(CHARTS / chart),
        f"--namespace={namespace}",
        KUBE_VERSION,
        *flags,
    )
    assert rendered.returncode == 0, rendered.stderr
    return rendered.stdout


def documents(manifest: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(manifest) if d]


def find(manifest: str, kind: str, name: str) -> dict[str, Any]:
    (found,) = (
        d for d in documents(manifest) if d["kind"] == kind and d["metadata"]["name"] == name
    )
    return found


def install(
    toolchain: Toolchain, chart: str, *flags: str, namespace: str, kubeconfig: Path
) -> tuple[str, str]:
    """`helm install` of charts/`chart` under a fresh release name, without --wait (there is no
    kubelet here: Deployments never get Pods); the release and what helm printed (NOTES.txt)."""
    release = f"{chart}-{uuid.uuid4().hex[:6]}"
    installed = helm(
        toolchain,
        "install",
        release,
        str(CHARTS / chart),
        f"--namespace={namespace}",
        *flags,
        kubeconfig=kubeconfig,
    )
    assert installed.returncode == 0, installed.stderr
    return release, installed.stdout
