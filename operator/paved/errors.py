"""Errors adapters raise; `paved.controllers._kopf` alone maps them to kopf's retry policy."""

from __future__ import annotations


class TransientError(Exception):
    """Try again later: a service is down, a reference is not there yet."""

    def __init__(self, message: str, retry_after_seconds: float = 10.0) -> None:
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class PermanentError(Exception):
    """Retrying cannot help until the resource changes. `reason` is the reason of the condition
    that reports it (CamelCase, as Kubernetes conditions want); the message says what to fix."""

    reason: str = "ReconcileFailed"

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        if reason is not None:
            self.reason = reason


class SourceDataError(PermanentError):
    """A FeatureView's source cannot be used as declared: missing files, columns, wrong types,
    null keys, timestamps without a time zone. The message names the file and the column."""

    reason = "SourceDataError"


class SourceUnreadableError(SourceDataError):
    """A source file cannot be read as Parquet at all: not Parquet, corrupt, a directory, not
    readable. The message names the file and the reader's error."""

    reason = "SourceUnreadable"


class StoreUnavailableError(TransientError):
    """The online store (or another service) does not answer; retry from the last watermark."""


class PathOutsideDataRootError(SourceDataError):
    """A source or labels path that is absolute, climbs out with `..`, or matches a file or
    directory whose real path (links resolved) is outside the namespace's data root."""

    reason = "PathOutsideDataRoot"


class ScoringUnavailableError(TransientError):
    """The serving endpoint a stream worker scores through does not answer; no event's fault."""
