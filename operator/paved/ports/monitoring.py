"""What a ModelMonitor reads besides the registry and the offline engine (the prediction log's
recent window, and the entity rows of a ModelVersion's training set: its labels), and what it
writes: the ModelVersion of a retraining."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Protocol

import pyarrow as pa

from paved.api.model_version import Labels, ModelVersionSpec
from paved.core.monitor_checks import LoggedWindow
from paved.core.prediction_log import Joined, Outcome, Prediction

__all__ = [
    "LabelRows",
    "LoggedWindow",
    "ModelVersionCreator",
    "MonitorReadError",
    "PredictionLog",
    "PredictionLogReader",
    "PredictionLogWriter",
    "RolloutReverter",
]


class MonitorReadError(Exception):
    """The log or the labels cannot be read (missing, corrupt, outside the data root); the
    message names what and why."""


class PredictionLogReader(Protocol):
    def window(
        self, namespace: str, model: str, version: str, *, since: dt.datetime, until: dt.datetime
    ) -> LoggedWindow:
        """What `version` of `model` (the ModelVersions' spec.model) served in [since, until),
        as the log holds it; MonitorReadError when the log cannot be read."""
        ...

    def judged(
        self,
        namespace: str,
        model: str,
        version: str | None,
        *,
        since: dt.datetime,
        until: dt.datetime,
        horizon: dt.timedelta,
        labels: Sequence[Outcome] = (),
    ) -> list[Joined]:
        """`version`'s predictions (every version's: None) served in [since, until), each with
        the outcome that judges it as known at `until` (the log's feedback, else one of `labels`
        within `horizon`); MonitorReadError when the log cannot be read."""
        ...


class PredictionLogWriter(Protocol):
    def write(
        self,
        namespace: str,
        model: str,
        predictor: str,
        predictions: Sequence[Prediction],
        *,
        key: str | None = None,
    ) -> None:
        """Add served predictions of `model` (the ModelVersions' spec.model) to the log, with
        the features each saw (`Prediction.logged_features`): each day's partition one new
        file, or, with `key`, one file named by it, which writing the same key again replaces
        (a redone batch run logs once). MonitorReadError when it cannot be written."""
        ...


class PredictionLog(PredictionLogReader, PredictionLogWriter, Protocol):
    """The log read by monitors and written by batch and streaming predictions (the data plane
    writes the online ones itself)."""


class LabelRows(Protocol):
    def entity_rows(self, namespace: str, labels: Labels) -> pa.Table:
        """The labels' entity columns and timestamp column (under the namespace's data root):
        the rows a training set joined its features to; MonitorReadError when unreadable."""
        ...

    def outcomes(self, namespace: str, labels: Labels) -> list[Outcome]:
        """The labels as outcomes by entity and event time (a label source of a monitor's
        performance check); MonitorReadError when unreadable."""
        ...

    def write(self, namespace: str, path: str, rows: Sequence[Mapping[str, object]]) -> None:
        """Write label rows (a retraining's, from the prediction log) as one Parquet file at
        `path` under the namespace's data root, whole or not at all; MonitorReadError when it
        cannot be written."""
        ...


class ModelVersionCreator(Protocol):
    async def create(
        self,
        namespace: str,
        name: str,
        spec: ModelVersionSpec,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> bool:
        """Create the ModelVersion; False when one of that name exists already. The API
        server's refusal (validation, an admission policy) is a PermanentError with its
        message; an API server that does not answer, a TransientError."""
        ...


class RolloutReverter(Protocol):
    async def request_revert(self, namespace: str, rollout: str, reason: str) -> None:
        """Ask the Rollout to put back the version its candidate replaced (the
        `paved.dev/revert` annotation, whose value is the reason). The API server's refusal is
        a PermanentError with its message; one that does not answer, a TransientError."""
        ...
