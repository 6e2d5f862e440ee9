"""`make demo-cluster`'s scenario on the tier's cluster: the embedded demo's three acts and its
revert, with the operators installed by Helm, the model served by the data plane's Pods and the
traffic through in-cluster Services (reached by port-forwards, as a person's laptop would)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from paved_local.cluster import KindCluster
from paved_local.demo.live import LineDisplay
from paved_local.demo.report import write_report
from paved_local.demo.scenario import Demo, DemoOptions
from paved_local.demo.sites.kind import KindSite

# What `kubectl get pods -A` shows Running while the demo runs: paved and its platform.
PODS = ("paved-", "dataplane-", "redis-", "prometheus-", "mlflow-", "objectstore-")


@pytest.mark.timeout(1500)  # the charts (a no-op upgrade here), three trainings, two rollouts
def test_the_demo_on_kind_tells_the_embedded_demos_story(
    installed: KindCluster, tmp_path: Path
) -> None:
    options = DemoOptions(time_scale=0.03, directory=tmp_path / "demo", timeout_seconds=600)
    with (
        (tmp_path / "demo.log").open("w") as log,
        LineDisplay(Console(file=log, width=200)) as shown,
    ):
        record = Demo(KindSite(installed, directory=tmp_path), options, shown).run_sync()

    story = [(o.model_version, o.result) for o in record.outcomes]
    assert story == [
        ("churn-v2", "production"),
        ("churn-v3", "rolled back"),
        ("churn-v2", "reverted"),
        ("churn-v1", "production"),
    ]
    assert "A/B win" in record.outcomes[0].detail
    assert record.outcomes[1].detail.startswith("GuardrailBreached: errorRate")
    (revert,) = record.reverts
    assert "serves all traffic and is production again" in revert.message
    production = record.production
    assert production is not None
    assert production.complete, production.text
    assert production.link("registryVersion")["uri"].startswith("s3://")  # what Pods fetch
    # The operators that did it are the chart's Pods: their log shows the rollouts.
    operator_log = (tmp_path / "demo" / "operator.log").read_text()
    told = r"Rollout demo-[0-9-]+/churn-v3 (Normal|Warning): GuardrailBreached: errorRate"
    assert re.search(told, operator_log), operator_log[-2000:]
    running = [
        line.split()[1]
        for line in (tmp_path / "demo" / "pods.txt").read_text().splitlines()[1:]
        if line.split()[3] == "Running"
    ]
    for pod in PODS:
        assert any(name.startswith(pod) for name in running), (pod, running)
    report = write_report(record, tmp_path / "report.html").read_text()
    for section in ("traffic", "guardrails", "ab-test", "gates", "rollbacks", "lineage"):
        assert f'id="{section}"' in report
