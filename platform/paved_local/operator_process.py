"""`paved operator` as its own process against the local platform, as a user runs it.

The demo and the tests start their operators with this one helper, so both run the operator
the same way: the `paved` command of this environment, on loopback, with free health and
metrics ports, its output in a log file, and the platform's endpoints in its settings.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Final

import httpx

from paved_local import processes
from paved_local.errors import ComponentFailedError
from paved_local.platform import Endpoints

LOG_TAIL_LINES: Final = 15


class OperatorProcess:
    """One operator process: its data root, state and log live under `root`."""

    def __init__(
        self,
        endpoints: Endpoints,
        root: Path,
        *,
        kubeconfig: Path,
        namespaces: Sequence[str],
        options: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
    ) -> None:
        self.data_root = root / "data"  # FeatureView sources with relative paths live here
        self.state_dir = root / "state"
        self.log = root / "operator.log"
        health_port, metrics_port = processes.free_port(), processes.free_port()
        self.health_url = f"http://127.0.0.1:{health_port}/healthz"
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        self._command = [sys.executable, "-m", "paved", "operator", f"--kubeconfig={kubeconfig}"]
        self._command += [f"--namespace={namespace}" for namespace in namespaces]
        self._command += ["--bind=127.0.0.1", f"--health-port={health_port}"]
        self._command += [f"--metrics-port={metrics_port}", *options]
        self._environment = {
            **os.environ,
            "PAVED_REDIS_URL": endpoints.redis,
            "PAVED_DATA_ROOT": str(self.data_root),
            "PAVED_STATE_DIR": str(self.state_dir),
            "PAVED_MLFLOW_TRACKING_URI": endpoints.mlflow,
            "PAVED_PROMETHEUS_URL": endpoints.prometheus,
            # MLflow's clients (its own, its training runs') write and read models in the
            # object store directly.
            **endpoints.storage,
            **(environment or {}),
        }
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and return: `wait_until_live` waits for it to answer."""
        self.data_root.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                self._command, stdout=output, stderr=subprocess.STDOUT, env=self._environment
            )

    def wait_until_live(self, timeout_seconds: float) -> None:
        """Until its liveness endpoint answers; ComponentFailedError if it exits first or never
        answers."""
        deadline = time.monotonic() + timeout_seconds
        while not _answers(self.health_url):
            self.check()
            if time.monotonic() > deadline:
                raise ComponentFailedError(
                    f"the operator did not answer {self.health_url} in {timeout_seconds:.0f}s; "
                    f"the end of {self.log}:\n{self.log_tail()}"
                )
            time.sleep(0.25)

    def check(self) -> None:
        """ComponentFailedError, with the end of its log, if the process has exited."""
        if self._process is not None and self._process.poll() is not None:
            raise ComponentFailedError(
                f"the operator exited; the end of {self.log}:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, *, crash: bool = False) -> None:
        """Stop the operator; `crash` kills it with no chance to clean up."""
        if self._process is None:
            return
        if crash:
            self._process.kill()
        else:
            self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def stop_training_runs(self) -> None:
        """Stop the training runs it started: they outlive an operator on purpose (a restart
        must find them), so whoever ends the operator for good ends them too."""
        for pid_file in self.state_dir.glob("runs/*/pid"):
            with contextlib.suppress(ValueError, OSError):
                pid = int(pid_file.read_text())
                if processes.is_running(pid, "paved_pipelines"):  # not a recycled pid
                    processes.stop(pid, grace_seconds=5)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
