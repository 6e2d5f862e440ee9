from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from paved_local.demo.record import (
    AbEstimate,
    DemoRecord,
    Event,
    GateResult,
    GuardrailSample,
    Lineage,
    Monitoring,
    MonitorSample,
    Outcome,
    Revert,
    Rollback,
    TrafficSample,
)
from paved_local.demo.report import render_report, write_report

T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
SVG = "{http://www.w3.org/2000/svg}"
RED = "#c62828"
PLOT_SECTIONS = [
    "traffic",
    "guardrails",
    "ab-test",
    "gates",
    "rollbacks",
    "lineage",
    "monitor",
    "timeline",
]


def _record(**fields: Any) -> DemoRecord:
    return DemoRecord(started_at=T0, time_scale=2.0, **fields)


def _traffic(rollout: str, *steps: tuple[float, int, bool]) -> list[TrafficSample]:
    """(at, candidate %, shadow) steps; the baseline gets the rest."""
    return [
        TrafficSample(
            at=at,
            rollout=rollout,
            step=f"canary {candidate}%",
            baseline=100 - candidate,
            candidate=candidate,
            shadow=shadow,
        )
        for at, candidate, shadow in steps
    ]


def _guardrail(*values: tuple[float, float | None, str]) -> list[GuardrailSample]:
    """(at, value, verdict) samples of one error-rate guardrail with a threshold of 0.02."""
    return [
        GuardrailSample(
            at=at,
            rollout="fraud",
            guardrail="error rate",
            value=value,
            threshold=0.02,
            verdict=verdict,
        )
        for at, value, verdict in values
    ]


def _estimate(at: float, effect: float, outcome: str = "undecided") -> AbEstimate:
    return AbEstimate(
        at=at,
        rollout="fraud",
        outcome=outcome,
        effect=effect,
        low=effect - 0.01,
        high=effect + 0.01,
        p_value=0.004,
        samples_baseline=1200,
        samples_candidate=1180,
        required_per_arm=1500,
    )


def _section(html: str, id_: str) -> str:
    match = re.search(rf'<section id="{id_}">(.*?)</section>', html, re.DOTALL)
    assert match, f"no section {id_}"
    return match.group(1)


def _svgs(fragment: str) -> list[ET.Element]:
    return [ET.fromstring(svg) for svg in re.findall(r"<svg.*?</svg>", fragment, re.DOTALL)]


def _paths(svg: ET.Element, css_class: str) -> list[ET.Element]:
    return [p for p in svg.iter(f"{SVG}path") if p.get("class") == css_class]


def test_summary_lists_outcomes_duration_and_time_scale() -> None:
    record = _record(
        finished_at=T0 + dt.timedelta(seconds=312),
        outcomes=[Outcome(model_version="fraud-v2", result="production", detail="won the A/B")],
    )
    summary = _section(render_report(record), "summary")
    assert "<td>fraud-v2</td><td>production</td><td>won the A/B</td>" in summary
    assert "5 min 12 s" in summary
    assert "2 s of demo for each minute" in summary


def test_traffic_draws_one_step_chart_per_rollout() -> None:
    record = _record(
        traffic=_traffic("fraud", (0, 0, False), (10, 20, False), (20, 100, False))
        + _traffic("churn", (5, 0, False), (15, 50, False))
    )
    svgs = _svgs(_section(render_report(record), "traffic"))
    assert [svg.findtext(f"{SVG}title") for svg in svgs] == [
        "Traffic of fraud: candidate and baseline % over time",
        "Traffic of churn: candidate and baseline % over time",
    ]
    for svg in svgs:
        assert len(_paths(svg, "candidate")) == len(_paths(svg, "baseline")) == 1
        assert svg.get("role") == "img"
        assert svg.get("aria-label") == svg.findtext(f"{SVG}title")
        texts = [t.text for t in svg.iter(f"{SVG}text")]
        assert "seconds since the demo started" in texts
        assert "% of traffic" in texts


def test_a_traffic_step_rises_where_the_candidate_share_changes() -> None:
    record = _record(traffic=_traffic("fraud", (0, 0, False), (10, 20, False)))
    (svg,) = _svgs(_section(render_report(record), "traffic"))
    (candidate,) = _paths(svg, "candidate")
    d = candidate.get("d", "")
    moves = [(float(x), float(y)) for x, y in re.findall(r"[ML]([\d.]+),([\d.]+)", d)]
    (_, at_zero), (rise, still_zero), (rise_again, at_twenty), (_, still_twenty) = moves
    assert (at_zero, at_twenty) == (still_zero, still_twenty)  # flat while a split holds
    assert rise == rise_again  # straight up where it changes
    assert at_twenty < at_zero  # SVG's y grows downwards


def test_shadow_periods_are_shaded() -> None:
    shadowed = _record(traffic=_traffic("fraud", (0, 0, True), (10, 20, False)))
    plain = _record(traffic=_traffic("fraud", (0, 0, False), (10, 20, False)))
    (svg,) = _svgs(_section(render_report(shadowed), "traffic"))
    (shade,) = [r for r in svg.iter(f"{SVG}rect") if r.get("class") == "shadow"]
    assert float(shade.get("width", "0")) > 0
    (unshaded,) = _svgs(_section(render_report(plain), "traffic"))
    assert not [r for r in unshaded.iter(f"{SVG}rect") if r.get("class") == "shadow"]


def test_a_breach_point_is_drawn_red() -> None:
    record = _record(guardrails=_guardrail((0, 0.01, "pass"), (10, 0.05, "breach")))
    (svg,) = _svgs(_section(render_report(record), "guardrails"))
    fills = {c.findtext(f"{SVG}title"): c.get("fill") for c in svg.iter(f"{SVG}circle")}
    assert fills["10 s: 0.05 (breach, threshold 0.02)"] == RED
    assert fills["0 s: 0.01 (pass, threshold 0.02)"] != RED


def test_the_threshold_is_dashed_and_no_data_leaves_a_gap() -> None:
    samples = _guardrail((0, 0.01, "pass"), (10, None, "noData"), (20, 0.01, "pass"))
    (svg,) = _svgs(_section(render_report(_record(guardrails=samples)), "guardrails"))
    assert len(_paths(svg, "value")) == 2
    (threshold,) = _paths(svg, "threshold")
    assert threshold.get("stroke-dasharray")
    assert len(list(svg.iter(f"{SVG}circle"))) == 2


def test_the_latest_ab_estimate_is_tabled_and_drawn_with_its_history() -> None:
    record = _record(ab=[_estimate(30, 0.02, "win"), _estimate(10, 0.0)])
    section = _section(render_report(record), "ab-test")
    latest, history = _svgs(section)
    assert "+0.0200" in (latest.findtext(f"{SVG}title") or "")
    assert [line.get("class") for line in latest.iter(f"{SVG}line")].count("zero") == 1
    assert len(_paths(latest, "interval")) == 1
    assert "over time" in (history.findtext(f"{SVG}title") or "")
    row = "<td>30.0 s</td><td>win</td><td>+0.0200</td><td>[+0.0100, +0.0300]</td><td>0.004</td>"
    assert row in section
    assert "<td>1200</td><td>1180</td><td>1500</td>" in section


def test_a_single_ab_estimate_has_no_history_plot() -> None:
    section = _section(render_report(_record(ab=[_estimate(10, 0.0)])), "ab-test")
    assert len(_svgs(section)) == 1


def test_gates_are_tabled_per_model_version_with_what_they_judged_against() -> None:
    record = _record(
        gates=[
            GateResult(
                model_version="fraud-v1",
                gate="metric:auc",
                passed=True,
                message="auc 0.8100; no reference: absolute floor 0.6500",
                value=0.81,
                threshold=0.65,
            ),
            GateResult(
                model_version="fraud-v2",
                gate="metric:auc",
                passed=True,
                message="auc 0.9100 vs fraud-v1 0.8100 on the same holdout: within 0.0050",
                value=-0.1,
                threshold=0.005,
            ),
            GateResult(
                model_version="fraud-v2",
                gate="slice:new",
                passed=None,
                message="slice new: 24 rows < minimum 50; not judged",
                value=24,
                threshold=50,
            ),
            GateResult(model_version="fraud-v3", gate="golden", passed=False, message="1/9 wrong"),
        ]
    )
    section = _section(render_report(record), "gates")
    assert re.findall(r"<h3>(.*?)</h3>", section) == ["fraud-v1", "fraud-v2", "fraud-v3"]
    assert "No model served yet: judged on the absolute floors." in section
    assert "Judged against fraud-v1, the model serving when it trained" in section
    assert (
        "<td>metric:auc</td><td>fraud-v1 on the same holdout</td>"
        "<td>auc 0.9100 vs fraud-v1 0.8100</td>"
        '<td>worse by at most 0.0050 (is -0.1000)</td><td class="pass">pass</td>'
    ) in section
    assert (
        "<td>nothing: too few rows to judge</td><td>24 rows</td><td>at least 50 rows</td>"
        '<td class="inconclusive">inconclusive</td>'
    ) in section
    assert '<td>1/9 wrong</td><td>no case wrong</td><td class="fail">fail</td>' in section


def test_a_rolled_back_rollout_is_tabled_with_its_reason_and_seconds() -> None:
    rollback = Rollback(
        rollout="fraud",
        reason="GuardrailBreached",
        message="error rate 0.05 over 0.02",
        breach_to_restore_seconds=7.46,
    )
    section = _section(render_report(_record(rollbacks=[rollback])), "rollbacks")
    assert (
        "<td>fraud</td><td>GuardrailBreached</td><td>error rate 0.05 over 0.02</td><td>7.5 s</td>"
        in section
    )


def test_a_revert_is_tabled_with_the_time_from_command_to_traffic_restored() -> None:
    revert = Revert(
        model="ml.fraud",
        rollout="fraud-v2",
        reason="over-predicts",
        message="Reverted ml.fraud version 2 (over-predicts): version 1 serves all traffic.",
        command_to_restored_seconds=4.26,
        reported_seconds=2.04,
    )
    section = _section(render_report(_record(reverts=[revert])), "rollbacks")
    assert "No rollbacks recorded." in section
    assert "<td>fraud-v2</td><td>over-predicts</td>" in section
    assert "<td>4.3 s</td><td>2.0 s</td>" in section


def test_the_production_section_is_what_paved_lineage_printed() -> None:
    printed = (
        "lineage of SeldonDeployment ml/fraud\n1. traffic: <a>\ncomplete: every link is present"
    )
    production = Lineage(
        command="paved lineage seldondeployment/fraud -n ml",
        text=printed,
        document={"complete": True, "links": [{"kind": "registryVersion", "data": {"uri": "u"}}]},
        complete=True,
    )
    section = _section(render_report(_record(production=production)), "lineage")
    assert "$ paved lineage seldondeployment/fraud -n ml" in section
    assert "<pre>lineage of SeldonDeployment ml/fraud\n1. traffic: &lt;a&gt;\n" in section
    assert '<p class="pass">complete: every link is present</p>' in section
    assert production.link("registryVersion") == {"uri": "u"}
    assert production.link("signOff") == {}


def test_the_monitor_section_draws_live_auc_against_training_and_says_why_it_retrained() -> None:
    monitoring = Monitoring(
        monitor="churn",
        trained_metric=0.78,
        samples=[
            MonitorSample(at=10, metric=None, judged=0, psi=None, feature=None),
            MonitorSample(at=20, metric=0.77, judged=400, psi=0.01, feature="clicks_7d"),
            MonitorSample(at=40, metric=0.55, judged=900, psi=3.2, feature="clicks_7d"),
        ],
        drifted_at=30,
        input_drift="1 of 2 features drifted: clicks_7d PSI 3.2 > 0.2",
        performance="auc 0.55 live vs 0.78 at training",
        retraining="churn-retrain-1",
        because="PerformanceDropped: auc 0.55 live <script>",
        labels="900 labelled predictions: retrained/churn/churn-retrain-1.parquet",
        retrained_phase="Staging",
        retrained_gates="4/4 passed",
    )

    section = _section(render_report(_record(monitoring=monitoring)), "monitor")

    (svg,) = _svgs(section)
    (live,) = _paths(svg, "value")
    assert live.get("d", "").count("L") == 1  # two judged samples; the unjudged one is left out
    assert [p.get("stroke-dasharray") for p in _paths(svg, "threshold")] == ["6 4"]
    assert "retrained/churn/churn-retrain-1.parquet" in section
    assert "4/4 passed (Staging)" in section
    assert "&lt;script&gt;" in section


def test_the_timeline_lists_events_in_time_order() -> None:
    events = [Event(at=20, text="rolled back"), Event(at=5, text="canary 20%")]
    section = _section(render_report(_record(events=events)), "timeline")
    assert section.index("canary 20%") < section.index("rolled back")
    assert "<td>5.0 s</td>" in section


def test_text_is_escaped_in_tables_and_plots() -> None:
    attack = "<script>alert(1)</script>"
    record = _record(events=[Event(at=1, text=attack)], traffic=_traffic(attack, (0, 10, False)))
    html = render_report(record)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in _section(html, "timeline")
    (svg,) = _svgs(_section(html, "traffic"))
    assert attack in (svg.findtext(f"{SVG}title") or "")


@pytest.mark.parametrize("section", PLOT_SECTIONS)
def test_sections_without_data_say_nothing_was_recorded(section: str) -> None:
    content = _section(render_report(_record()), section)
    assert re.fullmatch(r'<h2>[^<]+</h2><p class="empty">No [^<]+ recorded\.</p>', content)


def test_an_unfinished_demo_without_outcomes_says_so() -> None:
    summary = _section(render_report(_record()), "summary")
    assert "not finished" in summary
    assert '<p class="empty">No outcomes recorded.</p>' in summary


def test_the_report_loads_nothing_from_elsewhere() -> None:
    record = _record(
        traffic=_traffic("fraud", (0, 10, False)),
        guardrails=_guardrail((0, 0.01, "pass")),
        ab=[_estimate(0, 0.0)],
    )
    html = render_report(record)
    assert html.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|<img|@import|src=|url\(", html)
    assert re.findall(r'href="([^"]*)"', html) == [f"#{id_}" for id_ in ["summary", *PLOT_SECTIONS]]


def test_write_report_creates_the_file_and_its_folders(tmp_path: Path) -> None:
    record = _record(events=[Event(at=1, text="started")])
    path = write_report(record, tmp_path / "reports" / "demo" / "index.html")
    assert path == tmp_path / "reports" / "demo" / "index.html"
    assert path.read_text(encoding="utf-8") == render_report(record)
