"""The demo's clock: the manifests' schedule on a shorter one, and the seconds since the start.

Durations come from the manifests multiplied by `time_scale` (a setting, not a second code
path), so the whole story takes minutes.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any, Final

from paved.api.meta import parse_duration
from paved.api.rollout import RolloutSpec

# Below these, Prometheus (scraping every 2 s) has too few samples for a rate to mean anything.
MIN_INTERVAL: Final = dt.timedelta(seconds=2)
MIN_WINDOW: Final = dt.timedelta(seconds=20)
# Each step kind's field that holds how long it lasts.
_STEP_DURATIONS: Final = (
    ("shadow", "duration"),
    ("canary", "duration"),
    ("pause", "duration"),
    ("abTest", "maxDuration"),
)


def compress(rollout: dict[str, Any], scale: float) -> dict[str, Any]:
    """The same rollout on a shorter clock: every duration times `scale`, within Prometheus's
    resolution for the analysis."""

    def scaled(value: str, floor: dt.timedelta = dt.timedelta(seconds=1)) -> str:
        seconds = max(parse_duration(value) * scale, floor).total_seconds()
        return f"{round(seconds)}s"

    spec = rollout["spec"]
    for step in spec["steps"]:
        for kind, key in _STEP_DURATIONS:
            if key in (step.get(kind) or {}):
                step[kind][key] = scaled(step[kind][key])
    analysis = spec.setdefault("analysis", {})
    analysis["interval"] = scaled(analysis.get("interval", "30s"), MIN_INTERVAL)
    analysis["window"] = scaled(analysis.get("window", "1m"), MIN_WINDOW)
    if "maxNoData" in analysis:
        analysis["maxNoData"] = scaled(analysis["maxNoData"])
    RolloutSpec.model_validate(spec)  # a compressed spec is still a valid one
    return rollout


def latency_limited(rollout: dict[str, Any], limit_ms: float | None) -> dict[str, Any]:
    """The rollout with its latencyP99 guardrail's limit set to the site's (None: as it is)."""
    if limit_ms is None:
        return rollout
    for guardrail in rollout["spec"].get("guardrails", []):
        if guardrail.get("builtin") == "latencyP99" and "maxMs" in guardrail:
            guardrail["maxMs"] = limit_ms
    return rollout


class Stopwatch:
    """Seconds since the demo started, to the hundredth: when each event happened."""

    def __init__(self) -> None:
        self._start = time.monotonic()

    def seconds(self) -> float:
        return round(time.monotonic() - self._start, 2)
