"""What the demo shows as it goes, and what its report keeps: stages, events and the operator's
reports on the Rollout under way, sampled for the terminal (`Live`) and the record alike."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from paved_local.dataplane.load import LoadStats
from paved_local.demo.clock import Stopwatch
from paved_local.demo.record import AbEstimate, DemoRecord, Event, GuardrailSample, TrafficSample

# Reads a paved object of the demo's namespace by plural and name ({} when there is none).
Getter = Callable[[str, str], Awaitable[dict[str, Any]]]


@dataclass
class Live:
    """What the terminal shows now."""

    stage: str = ""
    elapsed: float = 0.0
    models: dict[str, str] = field(default_factory=dict)  # ModelVersion → phase
    rollout: str | None = None
    phase: str | None = None
    step: str | None = None
    traffic: tuple[int, int, bool] | None = None
    guardrails: list[GuardrailSample] = field(default_factory=list)
    experiment: AbEstimate | None = None
    load: LoadStats | None = None
    events: list[str] = field(default_factory=list)


class Display(Protocol):
    def show(self, live: Live) -> None: ...


class Narrator:
    """Tells the story on a display and into the record as it happens."""

    def __init__(self, display: Display, record: DemoRecord) -> None:
        self.display = display
        self.record = record
        self.live = Live()
        self.clock = Stopwatch()
        self._seen_readings: set[tuple[str, str, str]] = set()

    def now(self) -> float:
        return self.clock.seconds()

    def stage(self, text: str) -> None:
        self.live.stage = text
        self.event(text)

    def event(self, text: str) -> None:
        self.record.events.append(Event(at=self.now(), text=text))
        self.live.events = [*self.live.events[-7:], f"{self.now():6.1f}s  {text}"]
        self.refresh()

    def refresh(self) -> None:
        self.live.elapsed = self.now()
        self.display.show(self.live)

    async def watch(self, get: Getter) -> None:
        """Sample what the operator reports, once a second, for the live view and the report."""
        while True:
            for name in list(self.live.models):
                found = await get("modelversions", name)
                self.live.models[name] = (found.get("status") or {}).get("phase") or "Pending"
            if self.live.rollout is not None:
                status = (await get("rollouts", self.live.rollout)).get("status") or {}
                self.sample(self.live.rollout, status)
            self.refresh()
            await asyncio.sleep(1.0)

    def sample(self, name: str, status: dict[str, Any]) -> None:
        """Rollout `name`'s status now: its split, its guardrails' readings, its A/B estimate."""
        at = self.now()
        self.live.phase = status.get("phase")
        traffic = status.get("traffic")
        if traffic:
            self._sample_traffic(at, name, status.get("currentStepKind"), traffic)
        readings = [self._reading(at, name, reading) for reading in status.get("analysis", [])]
        if readings:
            self.live.guardrails = readings
        experiment = status.get("experiment")
        if experiment:
            self._sample_experiment(at, name, experiment)

    def _sample_traffic(
        self, at: float, name: str, kind: str | None, traffic: dict[str, Any]
    ) -> None:
        self.live.traffic = (traffic["baseline"], traffic["candidate"], traffic["shadow"])
        step = {"abTest": "A/B test"}.get(kind or "", kind or "")
        if self.live.phase == "RolledBack":
            step = "rolled back"
        self.live.step = step
        self.record.traffic.append(
            TrafficSample(
                at=at,
                rollout=name,
                step=step,
                baseline=traffic["baseline"],
                candidate=traffic["candidate"],
                shadow=traffic["shadow"],
            )
        )

    def _reading(self, at: float, name: str, reading: dict[str, Any]) -> GuardrailSample:
        """A guardrail's reading; the record keeps each reading once, when it is first seen."""
        sample = GuardrailSample(
            at=at,
            rollout=name,
            guardrail=reading["guardrail"],
            value=reading.get("value"),
            threshold=reading.get("threshold"),
            verdict=reading["verdict"],
        )
        key = (name, reading["guardrail"], reading["at"])
        if key not in self._seen_readings:
            self._seen_readings.add(key)
            self.record.guardrails.append(sample)
        return sample

    def _sample_experiment(self, at: float, name: str, experiment: dict[str, Any]) -> None:
        estimate = AbEstimate(
            at=at,
            rollout=name,
            outcome=experiment["outcome"],
            effect=experiment["effect"],
            low=experiment["low"],
            high=experiment["high"],
            p_value=experiment["pValue"],
            samples_baseline=experiment["samplesBaseline"],
            samples_candidate=experiment["samplesCandidate"],
            required_per_arm=experiment["requiredPerArm"],
        )
        # The record keeps an estimate when it changes, not every second it stays the same.
        shown = self.live.experiment
        if shown is None or shown.model_dump(exclude={"at"}) != estimate.model_dump(exclude={"at"}):
            self.record.ab.append(estimate)
        self.live.experiment = estimate
