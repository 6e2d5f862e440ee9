"""`paved rollout …` as a person runs it against a real API server: each verb writes the
annotations the operator reads, and `status` prints what the operator wrote."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from paved_local.platform import Endpoints
from tests.support.kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[2]
PAVED = str(Path(sys.executable).parent / "paved")
ROLLOUT = "churn-v1"  # examples/03-rollout.yaml: shadow, canary 1%, canary 5%, A/B, full

pytestmark = pytest.mark.usefixtures("paved_crds")


@pytest.fixture
def rollout(kubectl: Kubectl, namespace: str, paved_crds: None) -> str:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "03-rollout.yaml"))
    return ROLLOUT


def _paved(endpoints: Endpoints, namespace: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAVED, "rollout", *args, "-n", namespace, f"--kubeconfig={endpoints.kubeconfig}"],
        capture_output=True,
        text=True,
        timeout=60,
    )


def _annotations(kubectl: Kubectl, namespace: str) -> dict[str, str]:
    found = kubectl.get_json("rollout.paved.dev", ROLLOUT, "-n", namespace)
    annotations: dict[str, str] = found["metadata"].get("annotations") or {}
    return annotations


def _write_status(kubectl: Kubectl, namespace: str, status: dict[str, Any]) -> None:
    kubectl.run(
        "patch",
        "rollout.paved.dev",
        ROLLOUT,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


def test_pause_resume_and_promote_write_the_annotations_the_operator_reads(
    kubectl: Kubectl, endpoints: Endpoints, namespace: str, rollout: str
) -> None:
    paused = _paved(endpoints, namespace, "pause", rollout, "--reason", "checking the dashboards")
    assert paused.returncode == 0, paused.stderr
    assert _annotations(kubectl, namespace)["paved.dev/pause"] == "checking the dashboards"

    assert _paved(endpoints, namespace, "resume", rollout).returncode == 0
    resumed = _annotations(kubectl, namespace)
    assert "paved.dev/pause" not in resumed  # one patch: lifted and resumed together
    assert _paved(endpoints, namespace, "resume", rollout).returncode == 0
    assert _annotations(kubectl, namespace)["paved.dev/resume"] != resumed["paved.dev/resume"]

    _paved(endpoints, namespace, "pause", rollout)
    promoted = _paved(endpoints, namespace, "promote", rollout)
    assert promoted.returncode == 0, promoted.stderr
    annotations = _annotations(kubectl, namespace)
    assert "paved.dev/promote" in annotations
    assert "paved.dev/pause" not in annotations


def test_status_prints_what_the_operator_wrote_and_watch_exits_by_the_outcome(
    kubectl: Kubectl, endpoints: Endpoints, namespace: str, rollout: str
) -> None:
    at = "2026-11-26T12:00:00Z"
    _write_status(
        kubectl,
        namespace,
        {
            "phase": "Paused",
            "currentStep": 1,
            "currentStepKind": "canary",
            "stepStartedAt": at,
            "traffic": {"baseline": 99, "candidate": 1, "shadow": False},
            "lastAnalysisAt": at,
            "analysis": [
                {
                    "guardrail": "errorRate",
                    "verdict": "pass",
                    "value": 0.002,
                    "threshold": 0.01,
                    "at": at,
                    "message": "error rate 0.2% ≤ 1%",
                }
            ],
            "conditions": [
                {
                    "type": "Progressing",
                    "status": "True",
                    "reason": "PausedByRequest",
                    "message": "Paused by request: checking.",
                    "lastTransitionTime": at,
                }
            ],
        },
    )
    shown = _paved(endpoints, namespace, "status", rollout)
    assert shown.returncode == 0, shown.stderr
    for line in (
        "phase:       Paused",
        "step:        2/5 canary, since 2026-11-26T12:00:00+00:00",
        "traffic:     baseline 99%, candidate 1%",
        "progressing: PausedByRequest: Paused by request: checking.",
    ):
        assert line in shown.stdout
    guardrail = next(line for line in shown.stdout.splitlines() if "errorRate" in line)
    assert guardrail.split() == ["errorRate", "pass", "value", "0.002", "threshold", "0.01"]

    _write_status(kubectl, namespace, {"phase": "Succeeded"})
    assert _paved(endpoints, namespace, "status", rollout, "--watch").returncode == 0
    _write_status(kubectl, namespace, {"phase": "RolledBack"})
    assert _paved(endpoints, namespace, "status", rollout, "--watch").returncode == 1


def test_a_verb_on_a_missing_rollout_fails_in_the_api_servers_words(
    endpoints: Endpoints, namespace: str
) -> None:
    for verb in ("promote", "status"):
        missing = _paved(endpoints, namespace, verb, "nope")
        assert missing.returncode == 1
        assert 'rollouts.paved.dev "nope" not found' in missing.stderr
