"""The terminal view shows what a person watches for: the split, the guardrails, the A/B."""

from __future__ import annotations

from rich.console import Console

from paved_local.demo.display import Live
from paved_local.demo.live import LineDisplay, render
from paved_local.demo.record import AbEstimate, GuardrailSample


def _text(live: Live) -> str:
    console = Console(record=True, width=120)
    console.print(render(live))
    return console.export_text()


def test_the_panel_shows_the_split_guardrails_against_thresholds_and_the_ab_estimate() -> None:
    live = Live(
        stage="Rolling churn-v2 out",
        rollout="churn-v2",
        phase="Progressing",
        step="A/B test",
        traffic=(50, 50, False),
        models={"churn-v2": "Staging"},
        guardrails=[
            GuardrailSample(
                at=1,
                rollout="churn-v2",
                guardrail="errorRate",
                value=0.031,
                threshold=0.02,
                verdict="breach",
            )
        ],
        experiment=AbEstimate(
            at=1,
            rollout="churn-v2",
            outcome="win",
            effect=0.09,
            low=0.01,
            high=0.18,
            p_value=0.03,
            samples_baseline=900,
            samples_candidate=880,
            required_per_arm=700,
        ),
    )
    shown = _text(live)
    assert "baseline 50% · candidate 50%" in shown
    assert "errorRate" in shown
    assert "0.031" in shown
    assert "0.02" in shown
    assert "breach" in shown
    assert "A/B: win  effect +0.090 [+0.010, +0.180]" in shown


def test_the_line_display_prints_each_event_once() -> None:
    console = Console(record=True, width=120)
    display = LineDisplay(console)
    display.show(Live(events=["  1.0s  started"]))
    display.show(Live(events=["  1.0s  started", "  2.0s  trained"]))
    assert console.export_text().splitlines() == ["  1.0s  started", "  2.0s  trained"]
