"""Streaming prediction: the workers that consume a stream, and the stream's backlog."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Protocol

from paved.api.streaming_prediction import Backlog
from paved.core.streaming_predictions import WorkerPlan

if TYPE_CHECKING:  # the SDK imports assembly, which names this port: pandas only when used
    import pandas as pd

__all__ = ["Backlog", "Scorer", "StreamBacklogs", "StreamWorkers", "WorkerPlan"]


class Scorer(Protocol):
    def score(self, frame: pd.DataFrame) -> list[float]:
        """One score per row of `frame` (columns: the features, in the model's order); raises
        TransientError when the model cannot be reached, anything else when a row breaks it."""
        ...


class StreamWorkers(Protocol):
    async def apply(self, plan: WorkerPlan) -> int:
        """Run `plan.replicas` workers on `plan`, replacing any on another plan and any that
        died; return how many run now."""
        ...

    async def remove(self, namespace: str, name: str) -> int:
        """Stop every worker of StreamingPrediction `namespace`/`name`; return how many."""
        ...


class StreamBacklogs(Protocol):
    async def backlog(self, stream: str, group: str, now: dt.datetime) -> Backlog:
        """What the group has not scored yet: unread and pending events, the oldest's age
        against `now`; raises StoreUnavailableError when the stream cannot be read."""
        ...
