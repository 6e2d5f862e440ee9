"""What the demo saw, as it saw it: the report is drawn from this record alone.

Times are seconds since the demo started, so plots need no clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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
    value: float | None = None  # as the ModelVersion's status reports them
    threshold: float | None = None


class Lineage(BaseModel):
    """`paved lineage` of what serves at the end, as the command printed it."""

    command: str  # e.g. "paved lineage seldondeployment/churn -n demo-1205-072800"
    text: str  # its output
    document: dict[str, Any]  # the same chain, `-o json`
    complete: bool

    def link(self, kind: str) -> dict[str, Any]:
        """The data of the chain's link `kind` (e.g. "registryVersion"); {} when missing."""
        links: list[dict[str, Any]] = self.document.get("links", [])
        found = next((k for k in links if k.get("kind") == kind), None)
        return dict(found.get("data") or {}) if found is not None else {}


class Revert(BaseModel):
    """`paved model revert`, timed from the command to traffic restored."""

    model: str
    rollout: str  # the Rollout that had promoted the reverted version, and carried it out
    reason: str
    message: str
    command_to_restored_seconds: float  # the command's start to the restored model at 100%
    reported_seconds: float | None  # the command's own count, from its request to the answer


class Rollback(BaseModel):
    rollout: str
    reason: str
    message: str
    breach_to_restore_seconds: float | None  # breach visible in Prometheus → baseline at 100%


class MonitorSample(BaseModel):
    """What the ModelMonitor's status said at one look: its live metric and the worst PSI."""

    at: float
    metric: float | None  # live AUC over the judged window (None: not judged yet)
    judged: int  # predictions with a known outcome behind it
    psi: float | None  # the most drifted feature's PSI
    feature: str | None


class Monitoring(BaseModel):
    """The fourth act: the world drifts, the monitor sees it, and a retraining waits for a
    person."""

    monitor: str
    trained_metric: float  # the production version's AUC at training
    samples: list[MonitorSample] = Field(default_factory=list)
    drifted_at: float | None = None  # when the world's new data was written
    input_drift: str = ""  # the InputDrift condition's message when it alarmed
    performance: str = ""  # the PerformanceDropped condition's message when it alarmed
    input_drift_seen: float | None = None
    performance_seen: float | None = None
    retraining: str | None = None  # the ModelVersion the monitor created
    because: str = ""  # its recorded reason
    labels: str = ""  # its labels from the prediction log
    retrained_phase: str | None = None
    retrained_gates: str | None = None


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
    reverts: list[Revert] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(default_factory=list)
    monitoring: Monitoring | None = None
