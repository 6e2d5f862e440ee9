"""A stream worker's predictions on their way to the log: held until there are enough of them or
they are old enough, written in one file, and dropped and counted when the log cannot be
written (scoring never waits on it)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from paved.core.prediction_log import Prediction
from paved.ports.monitoring import MonitorReadError
from paved.services.prediction_log_buffer import LogBuffer

AT = dt.datetime(2026, 12, 6, 12, tzinfo=dt.UTC)


class Log:
    def __init__(self, *, broken: bool = False) -> None:
        self.files: list[list[str]] = []
        self.broken = broken

    def write(
        self,
        namespace: str,
        model: str,
        predictor: str,
        predictions: Sequence[Prediction],
        *,
        key: str | None = None,
    ) -> None:
        del namespace, model, predictor, key
        if self.broken:
            raise MonitorReadError("the data root is full")
        self.files.append([p.request_id for p in predictions])


def _predictions(*ids: str) -> list[Prediction]:
    return [Prediction(i, '{"user_id":1}', AT, "3", 0.5) for i in ids]


def test_predictions_are_held_until_there_are_enough_or_they_are_old_enough() -> None:
    now = [0.0]
    log = Log()
    buffer = LogBuffer(
        log, "ml", "churn", "stream/s", rows=3, flush_seconds=5, clock=lambda: now[0]
    )

    buffer.hold(_predictions("a", "b"))
    buffer.flush_if_due()
    assert log.files == []
    buffer.hold(_predictions("c"))
    assert log.files == []  # holding writes nothing
    buffer.flush_if_due()
    assert log.files == [["a", "b", "c"]]  # enough of them: one file
    buffer.hold(_predictions("d"))
    buffer.flush_if_due()
    now[0] = 6.0
    buffer.flush_if_due()  # old enough
    assert log.files == [["a", "b", "c"], ["d"]]
    assert (buffer.written, buffer.failed) == (4, 0)


def test_a_log_that_cannot_be_written_drops_and_counts_what_it_held() -> None:
    buffer = LogBuffer(Log(broken=True), "ml", "churn", "stream/s", rows=2)

    buffer.hold(_predictions("a", "b"))
    buffer.flush_if_due()

    assert (buffer.written, buffer.failed) == (0, 2)
    assert buffer.last_error == "the data root is full"
    buffer.flush()  # nothing held any more
    assert buffer.failed == 2
