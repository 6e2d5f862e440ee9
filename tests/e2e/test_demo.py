"""`make demo`'s scenario, on a shorter clock: the outcomes the README promises, and the report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from paved_local.demo.live import LineDisplay
from paved_local.demo.record import DemoRecord
from paved_local.demo.report import write_report
from paved_local.demo.scenario import Demo, DemoOptions, summary
from paved_local.demo.sites.local import LocalSite
from paved_local.platform import LocalPlatform


# Four trainings, two rollouts, a revert and a drift, on a 0.03 clock.
@pytest.mark.timeout(1200)
def test_the_demo_promotes_v2_rolls_v3_back_reverts_v2_retrains_on_drift_and_reports(
    local_platform: LocalPlatform, tmp_path: Path
) -> None:
    # The demo's own world (its default 1,500 users), on a faster clock.
    options = DemoOptions(time_scale=0.03, directory=tmp_path / "demo", timeout_seconds=400)
    with (
        (tmp_path / "demo.log").open("w") as log,
        LineDisplay(Console(file=log, width=200)) as shown,
    ):
        record = Demo(LocalSite(local_platform), options, shown).run_sync()

    story = [(o.model_version, o.result) for o in record.outcomes]
    assert story[:4] == [
        ("churn-v2", "production"),
        ("churn-v3", "rolled back"),
        ("churn-v2", "reverted"),
        ("churn-v1", "production"),
    ]
    (retrained, result) = story[4]
    assert retrained.startswith("churn-retrain-")
    assert result == "waiting for a person"
    _the_monitor_saw_the_drift_and_retrained(record)
    assert "A/B win" in record.outcomes[0].detail
    assert record.outcomes[1].detail.startswith("GuardrailBreached: errorRate")
    (rollback,) = record.rollbacks
    assert rollback.breach_to_restore_seconds is not None
    # The revert after promotion: one command, timed to the data plane serving v1 alone.
    (revert,) = record.reverts
    assert re.fullmatch(r"demo-[0-9-]+\.churn", revert.model)  # its namespace's churn
    assert revert.rollout == "churn-v2"
    assert revert.reported_seconds is not None
    assert 0 < revert.command_to_restored_seconds < 60
    assert "serves all traffic and is production again" in revert.message
    # What serves at the end, as `paved lineage` prints it: v1, every link present.
    production = record.production
    assert production is not None
    assert production.complete, production.text
    assert production.text.endswith("complete: every link is present")
    assert "(ModelVersion churn-v1)" in production.text
    assert "churn-v2 (candidate churn-v2): RolledBack, its revert put this version back" in (
        production.text
    )
    assert production.link("registryVersion")["tags"]["paved.approved_by"] == "demo-user"
    assert {g.model_version for g in record.gates} == {
        "churn-v1",
        "churn-v2",
        "churn-v3",
        retrained,
    }
    # Every slice the demo declares is judged; v2 was judged against v1, the model serving,
    # on v2's own holdout (metric and slices), and its drift against what v1 is served.
    assert not [g for g in record.gates if g.gate.startswith("slice:") and g.passed is None]
    v2 = {g.gate: g for g in record.gates if g.model_version == "churn-v2"}
    assert " vs churn-v1 " in v2["metric:auc"].message
    assert "on the same holdout" in v2["metric:auc"].message
    assert all(" vs churn-v1 " in v2[g].message for g in v2 if g.startswith("slice:"))
    assert any("training vs serving inputs" in v2[g].message for g in v2 if "drift:" in g)
    assert any(s.shadow for s in record.traffic)
    assert any(s.candidate == 50 for s in record.traffic)  # the A/B split
    assert any(g.verdict == "breach" for g in record.guardrails)
    assert any(e.outcome == "win" for e in record.ab)

    report = write_report(record, tmp_path / "report.html").read_text()
    for section in ("traffic", "guardrails", "ab-test", "gates", "rollbacks", "lineage", "monitor"):
        assert f'id="{section}"' in report
    assert len(re.findall(r"<svg", report)) >= 3
    assert "Judged against churn-v1, the model serving when it trained" in report
    assert "as churn-v1 is served" in report  # v2's drift gates
    assert "Command → traffic restored" in report
    assert "complete: every link is present" in report
    assert any("breach to restored traffic" in line for line in summary(record))
    assert any("command to traffic restored" in line for line in summary(record))


def _the_monitor_saw_the_drift_and_retrained(record: DemoRecord) -> None:
    """Act four: input drift and a live AUC drop, both seen after the world drifted; the
    retraining trained on the log's labels, passed its gates and waits for a person."""
    monitoring = record.monitoring
    assert monitoring is not None
    assert monitoring.drifted_at is not None
    assert "clicks_7d PSI" in monitoring.input_drift
    assert "at training: worse by" in monitoring.performance
    for seen in (monitoring.input_drift_seen, monitoring.performance_seen):
        assert seen is not None
        assert seen > monitoring.drifted_at
    live = [s.metric for s in monitoring.samples if s.metric is not None]
    assert max(live) > monitoring.trained_metric - 0.05  # calm before the drift
    assert min(live) < monitoring.trained_metric - 0.05  # the drop the monitor saw
    assert monitoring.because.startswith(("PerformanceDropped: auc", "InputDrift: "))
    assert "labelled predictions: retrained/churn/" in monitoring.labels
    assert monitoring.retrained_phase == "Staging"  # gates passed; a person signs off
