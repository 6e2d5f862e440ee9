"""What the demo saw, as it saw it: the report is drawn from this record alone.

Times are seconds since the demo started, so plots need no clock.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class Event(BaseModel):
    at: float
    text: str


class TrafficSample(BaseModel):
    at: float
    rollout: str
    step: str  # e.g. "canary 20%", "shadow", "full", "rolled back"
    baseline: int = Field(ge=0, le=100)
    candidate: int = Field(ge=0, le=100)
    shadow: bool = False


class GuardrailSample(BaseModel):
    at: float
    rollout: str
    guardrail: str
    value: float | None  # None: no data
    threshold: float | None
    verdict: str  # pass | breach | noData


class AbEstimate(BaseModel):
    at: float
    rollout: str
    outcome: str  # win | loss | noDifference | undecided
    effect: float  # candidate rate - baseline rate
    low: float  # always-valid interval on the effect
    high: float
    p_value: float
    samples_baseline: int
    samples_candidate: int
    required_per_arm: int


class GateResult(BaseModel):
    model_version: str
    gate: str
    passed: bool | None  # None: inconclusive
    message: str


class Lineage(BaseModel):
    model: str
    version: str
    uri: str
    tags: dict[str, str]


class Rollback(BaseModel):
    rollout: str
    reason: str
    message: str
    breach_to_restore_seconds: float | None  # breach visible in Prometheus → baseline at 100%


class Outcome(BaseModel):
    model_version: str
    result: str  # e.g. "production", "rolled back", "held by a gate"
    detail: str


class DemoRecord(BaseModel):
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    time_scale: float = Field(description="Seconds of demo per minute of the real schedule.")
    events: list[Event] = Field(default_factory=list)
    traffic: list[TrafficSample] = Field(default_factory=list)
    guardrails: list[GuardrailSample] = Field(default_factory=list)
    ab: list[AbEstimate] = Field(default_factory=list)
    gates: list[GateResult] = Field(default_factory=list)
    production: Lineage | None = None
    rollbacks: list[Rollback] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
