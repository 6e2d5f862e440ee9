"""A refusal: why something may not happen now, as a condition's reason and message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Refusal:
    """Why a move (a stage transition, a Rollout's start) is refused: a reason to match on and
    a message that says what is missing."""

    reason: str
    message: str
