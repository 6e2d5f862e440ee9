"""The API server itself refuses bad input, naming the field, before the operator sees it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from tests.support.kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[3]
INVALID = sorted((ROOT / "tests" / "fixtures" / "invalid").glob("*.yaml"))

pytestmark = pytest.mark.usefixtures("paved_crds")


def test_there_are_at_least_25_invalid_fixtures() -> None:
    assert len(INVALID) >= 25


@pytest.mark.parametrize("fixture", INVALID, ids=lambda p: p.stem)
def test_invalid_manifest_is_rejected_naming_the_field(
    fixture: Path, kubectl: Kubectl, namespace: str
) -> None:
    text = fixture.read_text()
    expectations = re.findall(r"^# expect: (.+)$", text, re.M)
    assert expectations, f"{fixture.name} says nothing about what it expects"
    given = re.search(r"^# given: (.+)$", text, re.M)
    before = None
    if given:
        kubectl.run("apply", "-n", namespace, "-f", str(ROOT / given[1]))
        original = yaml.safe_load((ROOT / given[1]).read_text())
        reference = (original["kind"], original["metadata"]["name"], "-n", namespace)
        before = kubectl.get_json(*reference)

    rejected = kubectl.run("apply", "-n", namespace, "-f", str(fixture), check=False)

    assert rejected.returncode != 0, f"{fixture.name} was accepted"
    for expected in expectations:
        assert expected in rejected.stderr
    if before is not None:  # nothing of the refused change was taken
        after = kubectl.get_json(*reference)
        assert after["spec"] == before["spec"]
        assert after["metadata"]["generation"] == before["metadata"]["generation"]


def test_examples_apply_and_kubectl_get_paved_shows_the_columns(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples"))
    listing = kubectl.run("get", "paved", "-n", namespace).stdout
    for header in ("VERSION", "FRESHNESS", "MATERIALIZED", "MODEL", "REGISTRY", "STAGE", "GATES"):
        assert header in listing
    for header in ("CANDIDATE", "PHASE", "STEP", "WEIGHT", "AGE"):
        assert header in listing
    for name in ("featureview.paved.dev/user-activity-v1", "modelversion.paved.dev/churn-v1"):
        assert name in listing
    short = kubectl.run("get", "fv,mv,mro", "-n", namespace, "-o", "name").stdout.split()
    assert len(short) == 3


def test_defaults_are_filled_in_by_the_api_server(kubectl: Kubectl, namespace: str) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "03-rollout.yaml"))
    spec = kubectl.get_json("rollout.paved.dev", "churn-v1", "-n", namespace)["spec"]
    assert spec["analysis"]["minSamples"] == 50
    assert spec["target"]["seldonDeployment"]["baselinePredictor"] == "baseline"
    assert spec["steps"][3]["abTest"]["policy"] == {
        "win": "promote",
        "noDifference": "pause",
        "loss": "rollBack",
    }


def test_status_written_through_the_main_resource_is_not_taken(
    kubectl: Kubectl, namespace: str
) -> None:
    manifest = yaml.safe_load((ROOT / "examples" / "03-rollout.yaml").read_text())
    manifest["status"] = {"phase": "Succeeded", "traffic": {"baseline": 0, "candidate": 100}}
    kubectl.apply(yaml.safe_dump(manifest), "-n", namespace)
    stored = kubectl.get_json("rollout.paved.dev", "churn-v1", "-n", namespace)
    assert "status" not in stored or stored["status"].get("phase") != "Succeeded"

    # Only the status subresource takes a status, and it still validates it.
    traffic = {"status": {"traffic": {"baseline": 0, "candidate": 101}}}
    patch = ("--subresource=status", "--type=merge", "-p", json.dumps(traffic))
    refused = kubectl.run(
        "patch", "rollout.paved.dev", "churn-v1", "-n", namespace, *patch, check=False
    )
    assert refused.returncode != 0
    assert "status.traffic.candidate" in refused.stderr
