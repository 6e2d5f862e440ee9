"""Served predictions on their way to the prediction log from a stream worker (ADR 0044): held
and written every `flush_seconds` or `rows`, so a worker scoring many small batches writes a few
files, not one a batch. A write that fails is counted and its records dropped: the log samples,
and scoring never waits on it."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from paved.core.prediction_log import Prediction
from paved.ports.monitoring import MonitorReadError, PredictionLogWriter


@dataclass
class LogBuffer:
    log: PredictionLogWriter
    namespace: str
    model: str  # the ModelVersions' spec.model: the log's partition
    predictor: str
    rows: int = 2_000
    flush_seconds: float = 5.0
    clock: Callable[[], float] = time.monotonic
    written: int = 0
    failed: int = 0
    last_error: str | None = None
    _held: list[Prediction] = field(default_factory=list)
    _since: float | None = None

    def hold(self, predictions: Sequence[Prediction]) -> None:
        """Keep them for the next write (no I/O: a worker holds before it acknowledges)."""
        if predictions and not self._held:
            self._since = self.clock()
        self._held.extend(predictions)

    def flush_if_due(self) -> None:
        """Write what is held once it is `rows` long or `flush_seconds` old."""
        if self._held and (
            len(self._held) >= self.rows
            or self.clock() - (self._since or 0.0) >= self.flush_seconds
        ):
            self.flush()

    def flush(self) -> None:
        held, self._held = self._held, []
        if not held:
            return
        try:
            self.log.write(self.namespace, self.model, self.predictor, held)
        except MonitorReadError as error:
            self.failed += len(held)
            self.last_error = str(error)
            return
        self.written += len(held)
