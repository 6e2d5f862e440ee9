"""Conditions as Kubernetes means them: lastTransitionTime moves only when the status flips.

Pure: callers pass `now` and the generation the condition reflects.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, TypeVar

from paved.api.meta import Condition, Status

ConditionStatus = Literal["True", "False", "Unknown"]


@dataclass(frozen=True)
class Observation:
    """What a reconcile concluded about one aspect of a resource."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


def set_condition(
    conditions: Sequence[Condition], observed: Observation, *, generation: int, now: dt.datetime
) -> list[Condition]:
    """Replace the condition of `observed.type`, keeping its transition time if nothing flipped."""
    previous = next((c for c in conditions if c.type == observed.type), None)
    flipped = previous is None or previous.status != observed.status
    updated = Condition(
        type=observed.type,
        status=observed.status,
        reason=observed.reason,
        message=observed.message,
        last_transition_time=now if flipped or previous is None else previous.last_transition_time,
        observed_generation=generation,
    )
    others = [c for c in conditions if c.type != observed.type]
    return sorted([*others, updated], key=lambda c: c.type)


StatusT = TypeVar("StatusT", bound=Status)


def report(
    status: StatusT, observed: Sequence[Observation], *, generation: int, now: dt.datetime
) -> StatusT:
    """The status after a reconcile: its conditions updated and the generation it reflects."""
    conditions = list(status.conditions)
    for observation in observed:
        conditions = set_condition(conditions, observation, generation=generation, now=now)
    return status.model_copy(update={"conditions": conditions, "observed_generation": generation})


def flipped(before: Sequence[Condition], after: Sequence[Condition]) -> list[Condition]:
    """The conditions of `after` that are new or changed status: what deserves an event."""
    previous = {c.type: c.status for c in before}
    return [c for c in after if previous.get(c.type) != c.status]


# Conditions that report a problem when True (Kubernetes's "abnormal-true" polarity): a
# monitor's InputDrift=True is the news, so its flip to True is the Warning.
ABNORMAL_WHEN_TRUE: Final = frozenset(
    {
        "InputDrift",
        "PredictionDrift",
        "GuardrailBreached",
        "PerformanceDropped",
        "FeaturesStale",
        "FeaturesSkewed",
    }
)
# Conditions that say what is under way, neither good nor bad (a monitor's Retraining): a flip
# is Normal, but for the reasons that report a refusal.
INFORMATIONAL: Final = {
    "Retraining": frozenset({"RetrainRefused"}),
    # A revert asked for is news, not a fault (the check that triggered it is the Warning).
    "Revert": frozenset({"NoPromotingRollout", "RevertRefused", "AlreadyReverted"}),
}


def event_type(condition: Condition) -> Literal["Normal", "Warning"]:
    """The event a condition's flip deserves: Normal only when it flips to its good side (or
    it has none), Warning otherwise."""
    if condition.type in INFORMATIONAL:
        return "Warning" if condition.reason in INFORMATIONAL[condition.type] else "Normal"
    good = "False" if condition.type in ABNORMAL_WHEN_TRUE else "True"
    return "Normal" if condition.status == good else "Warning"
