"""The demo's clock compresses a rollout's schedule; its narrator samples what the operator says."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from paved_local.demo.clock import compress, latency_limited
from paved_local.demo.display import Live, Narrator
from paved_local.demo.record import DemoRecord
from paved_local.demo.scenario import manifests


def test_every_duration_of_the_demos_rollout_shrinks_but_the_analysis_stays_measurable() -> None:
    rollout = compress(manifests()["04-rollout-v2.yaml"], 0.01)
    spec = rollout["spec"]
    durations = [
        value
        for step in spec["steps"]
        for kind in step.values()
        for key, value in (kind or {}).items()
        if key in ("duration", "maxDuration")
    ]
    assert durations, "the demo's rollout has timed steps"
    assert all(value.endswith("s") and int(value[:-1]) >= 1 for value in durations)
    # Prometheus scrapes every 2 s: the analysis never asks for less than it can answer.
    assert int(spec["analysis"]["interval"][:-1]) >= 2
    assert int(spec["analysis"]["window"][:-1]) >= 20


def test_a_compressed_rollout_is_still_valid() -> None:
    rollout = manifests()["04-rollout-v2.yaml"]
    rollout["spec"]["steps"].append({"pause": {"duration": "1h"}})
    assert compress(rollout, 0.05)["spec"]["steps"][-1] == {"pause": {"duration": "180s"}}


def test_a_site_sets_the_latency_guardrails_limit_and_leaves_the_others_as_written() -> None:
    written = manifests()["06-rollout-v3.yaml"]
    others = [g for g in written["spec"]["guardrails"] if g.get("builtin") != "latencyP99"]

    on_kind = latency_limited(manifests()["06-rollout-v3.yaml"], 2500.0)
    as_written = latency_limited(manifests()["06-rollout-v3.yaml"], None)

    (latency,) = (g for g in on_kind["spec"]["guardrails"] if g.get("builtin") == "latencyP99")
    assert latency["maxMs"] == 2500.0
    assert [g for g in on_kind["spec"]["guardrails"] if g is not latency] == others
    assert as_written == written


class Shown:
    def __init__(self) -> None:
        self.shown: list[Live] = []

    def show(self, live: Live) -> None:
        self.shown.append(live)


STATUS: dict[str, Any] = {
    "phase": "Progressing",
    "currentStepKind": "abTest",
    "traffic": {"baseline": 50, "candidate": 50, "shadow": False},
    "analysis": [
        {"guardrail": "errorRate", "verdict": "pass", "value": 0.01, "threshold": 0.02, "at": "t1"}
    ],
    "experiment": {
        "outcome": "undecided",
        "effect": 0.05,
        "low": -0.01,
        "high": 0.11,
        "pValue": 0.2,
        "samplesBaseline": 300,
        "samplesCandidate": 310,
        "requiredPerArm": 700,
    },
}


@pytest.fixture
def narrator() -> Narrator:
    return Narrator(Shown(), DemoRecord(started_at=dt.datetime.now(dt.UTC), time_scale=0.05))


def test_the_split_is_shown_and_kept_on_every_sample(narrator: Narrator) -> None:
    narrator.sample("churn-v2", STATUS)
    narrator.sample("churn-v2", STATUS)
    assert (narrator.live.traffic, narrator.live.step) == ((50, 50, False), "A/B test")
    assert [s.candidate for s in narrator.record.traffic] == [50, 50]


def test_a_guardrail_reading_and_an_unchanged_estimate_are_kept_once(narrator: Narrator) -> None:
    narrator.sample("churn-v2", STATUS)
    narrator.sample("churn-v2", STATUS)
    assert [g.verdict for g in narrator.record.guardrails] == ["pass"]
    assert [e.effect for e in narrator.record.ab] == [0.05]
    later = {**STATUS, "experiment": {**STATUS["experiment"], "outcome": "win", "effect": 0.09}}
    narrator.sample("churn-v2", later)
    assert [e.outcome for e in narrator.record.ab] == ["undecided", "win"]


def test_a_rolled_back_rollout_says_so_in_its_step(narrator: Narrator) -> None:
    narrator.sample("churn-v3", {**STATUS, "phase": "RolledBack"})
    assert narrator.live.step == "rolled back"


def test_events_are_shown_and_recorded_with_when_they_happened(narrator: Narrator) -> None:
    narrator.stage("Training churn-v1")
    assert narrator.live.stage == "Training churn-v1"
    assert [e.text for e in narrator.record.events] == ["Training churn-v1"]
    assert narrator.live.events[-1].endswith("s  Training churn-v1")
