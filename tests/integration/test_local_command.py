"""`paved local` as a user runs it: up, status, env, up again, down, and clear errors."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from paved_local import processes
from paved_local.platform import COMPONENTS, LocalPlatform, PlatformState
from paved_local.toolchain import Toolchain


def paved(*args: str, directory: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "paved"), "local", "--dir", str(directory), *args],
        capture_output=True,
        text=True,
        timeout=400,
        env={**os.environ},
    )


def _open_ports(state: PlatformState) -> list[int]:
    return [port for port in state.ports.values() if not processes.is_free(port)]


def test_up_status_env_up_again_and_down_leave_nothing_behind(
    tmp_path: Path, toolchain: Toolchain
) -> None:
    directory = tmp_path / "platform"
    started = paved("up", directory=directory)
    assert started.returncode == 0, started.stderr
    kubeconfig = directory / "kubeconfig"
    assert f"kubeconfig: {kubeconfig}" in started.stdout

    readyz = subprocess.run(
        [str(toolchain.kubectl), f"--kubeconfig={kubeconfig}", "get", "--raw", "/readyz"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert readyz.stdout.strip() == "ok"

    status = paved("status", directory=directory)
    assert status.returncode == 0, status.stdout
    assert status.stdout.count(" ready ") == len(COMPONENTS)

    exports = paved("env", directory=directory).stdout
    assert f"export KUBECONFIG={kubeconfig}" in exports
    assert "export MLFLOW_TRACKING_URI=http://127.0.0.1:" in exports
    assert "export PAVED_REDIS_URL=redis://127.0.0.1:" in exports
    assert "export PAVED_PROMETHEUS_URL=http://127.0.0.1:" in exports
    # Models are logged to and fetched from the object store, with the platform's own keys.
    assert "export MLFLOW_S3_ENDPOINT_URL=http://127.0.0.1:" in exports
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:" in exports
    assert "export AWS_ACCESS_KEY_ID=paved-" in exports
    keys = directory / "object-store" / "credentials.json"
    assert keys.stat().st_mode & 0o777 == 0o600

    platform = LocalPlatform(directory)
    before = platform._load()
    again = paved("up", directory=directory)
    assert again.returncode == 0
    assert "already up" in again.stderr
    assert platform._load().components == before.components  # the same processes, untouched

    stopped = paved("down", directory=directory)
    assert stopped.returncode == 0
    for component in before.components.values():
        assert not processes.group_alive(component.pid)
    assert _open_ports(before) == []
    assert paved("status", directory=directory).returncode != 0


def test_a_port_in_use_is_refused_with_what_to_do(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        result = paved("up", "--apiserver-port", str(port), directory=tmp_path / "platform")
    assert result.returncode == 1
    assert f"port {port} for kube-apiserver is in use" in result.stderr
    assert "Free it" in result.stderr
    assert "Traceback" not in result.stderr


def test_env_before_up_says_to_run_up(tmp_path: Path) -> None:
    result = paved("env", directory=tmp_path / "nothing")
    assert result.returncode == 1
    assert "run `paved local up` first" in result.stderr


def test_env_puts_kubectl_paved_on_the_path(local_platform: LocalPlatform) -> None:
    # A shell with nothing of the project's on its PATH: the env alone must bring kubectl and
    # the `kubectl-paved` plug-in, so that the real kubectl finds `paved` as a plug-in.
    paved_command = Path(sys.executable).parent / "paved"
    shell = (
        f'eval "$({paved_command} local --dir {local_platform.directory} env)" '
        "&& kubectl paved --help && kubectl plugin list"
    )
    done = subprocess.run(
        ["bash", "-c", shell],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "HOME": os.environ.get("HOME", "/tmp")},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "paved: the paved road for machine learning on Kubernetes." in done.stdout
    assert "lineage" in done.stdout  # the verbs the README promises as `kubectl paved …`
    assert str(paved_command.parent / "kubectl-paved") in done.stdout
