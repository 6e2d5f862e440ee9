"""`make demo`'s scenario, on a shorter clock: the outcomes the README promises, and the report."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.console import Console

from paved_local.demo.live import LineDisplay
from paved_local.demo.report import write_report
from paved_local.demo.scenario import Demo, DemoOptions, summary
from paved_local.platform import LocalPlatform


@pytest.mark.timeout(900)  # three trainings and two rollouts, on a 0.03 clock
def test_the_demo_promotes_v2_rolls_v3_back_and_writes_its_report(
    local_platform: LocalPlatform, tmp_path: Path
) -> None:
    # The demo's own world (its default 1,500 users), on a faster clock.
    options = DemoOptions(time_scale=0.03, directory=tmp_path / "demo", timeout_seconds=400)
    with (
        (tmp_path / "demo.log").open("w") as log,
        LineDisplay(Console(file=log, width=200)) as shown,
    ):
        record = Demo(local_platform, options, shown).run_sync()

    outcomes = {o.model_version: o for o in record.outcomes}
    assert outcomes["churn-v2"].result == "production"
    assert "A/B win" in outcomes["churn-v2"].detail
    assert outcomes["churn-v3"].result == "rolled back"
    assert outcomes["churn-v3"].detail.startswith("GuardrailBreached: errorRate")
    (rollback,) = record.rollbacks
    assert rollback.breach_to_restore_seconds is not None
    assert record.production is not None
    assert record.production.tags["paved.approved_by"] == "demo-user"
    assert re.fullmatch(r"demo-[0-9-]+\.churn", record.production.model)  # its namespace's churn
    assert {g.model_version for g in record.gates} == {"churn-v1", "churn-v2", "churn-v3"}
    # v2 was judged against v1, the model serving, on v2's own holdout.
    (v2_metric,) = (
        g for g in record.gates if (g.model_version, g.gate) == ("churn-v2", "metric:auc")
    )
    assert " vs churn-v1 " in v2_metric.message
    assert "on the same holdout" in v2_metric.message
    assert any(s.shadow for s in record.traffic)
    assert any(s.candidate == 50 for s in record.traffic)  # the A/B split
    assert any(g.verdict == "breach" for g in record.guardrails)
    assert any(e.outcome == "win" for e in record.ab)

    report = write_report(record, tmp_path / "report.html").read_text()
    for section in ("traffic", "guardrails", "ab-test", "gates", "rollbacks", "lineage"):
        assert f'id="{section}"' in report
    assert len(re.findall(r"<svg", report)) >= 3
    assert any("breach to restored traffic" in line for line in summary(record))
