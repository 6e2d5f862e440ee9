"""A person's verbs on a Rollout, through the `paved` command as they would type it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PAVED = str(Path(sys.executable).parent / "paved")


def roll_back(rollout: str, namespace: str, reason: str, kubeconfig: Path) -> None:
    """`paved rollout rollback`: asserts the command took the request."""
    command = [PAVED, "rollout", "rollback", rollout, "-n", namespace, "--reason", reason]
    requested = subprocess.run(
        [*command, f"--kubeconfig={kubeconfig}"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert requested.returncode == 0, requested.stderr
