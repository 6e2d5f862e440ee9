"""StreamingPrediction: score events as they arrive, from a Redis Stream, with online features.

The operator runs consumer workers for it (a consumer group on the input stream); each event's
entity gets its online features joined, the model scores it, and the result goes to the output
stream and the online store once (keyed by the event's id), then the event is acknowledged.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import Field, model_validator

from paved.api.feature_view import Entity
from paved.api.meta import (
    Model,
    ObjectName,
    PositiveDuration,
    RecordedName,
    ShortText,
    Status,
    cel,
    section,
    validated,
)
from paved.api.model_version import ModelChoice
from paved.api.prediction_logging import PredictionLogging

# A Redis key paved reads or writes: printable, no spaces, as Redis tools show them.
StreamKey = Annotated[str, Field(min_length=1, max_length=512, pattern=r"^[A-Za-z0-9_.:{}\-/]+$")]
# `<FeatureView>:<feature>`: a FeatureView of the namespace and one of its features.
FeatureRef = Annotated[
    str,
    Field(max_length=400, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?:[A-Za-z_][A-Za-z0-9_]*$"),
]


class ScoringMode(StrEnum):
    """Where the model runs: in the consumer's process, or behind the serving endpoint."""

    IN_PROCESS = "inProcess"
    ENDPOINT = "endpoint"


class InputStream(Model):
    stream: StreamKey = Field(
        description="The Redis Stream of events; each entry's `event` field is a JSON object."
    )
    group: ObjectName = Field(
        default="paved", description="The consumer group every worker of this object shares."
    )


class Scoring(Model):
    model_config = validated(
        cel(
            "!has(self.mode) || self.mode != 'endpoint' || has(self.endpoint)",
            "mode endpoint needs the endpoint's URL",
            ".endpoint",
        ),
    )

    mode: ScoringMode = ScoringMode.IN_PROCESS
    endpoint: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://[^\s]+$",
        description="A Seldon v1 predictions URL (…/api/v1.0/predictions), for mode endpoint.",
    )

    @model_validator(mode="after")
    def _endpoint_when_needed(self) -> Scoring:
        if self.mode is ScoringMode.ENDPOINT and self.endpoint is None:
            raise ValueError("scoring: mode endpoint needs the endpoint's URL")
        return self


class Output(Model):
    stream: StreamKey | None = Field(
        default=None,
        description="Where results go; default paved:predictions:<namespace>:<name>.",
    )
    max_length: int = Field(
        default=100_000,
        ge=100,
        le=100_000_000,
        description="About how many results the output stream keeps (XADD MAXLEN ~).",
    )
    online: bool = Field(
        default=True, description="Also write each entity's latest prediction online."
    )
    dedup_window: PositiveDuration = Field(
        default="24h",
        description="How long an event's result is remembered: a redelivery within it has no "
        "second effect.",
    )


class Workers(Model):
    replicas: int = Field(default=1, ge=0, le=32, description="Consumers in the group.")
    batch_size: int = Field(
        default=100, ge=1, le=5000, description="Events read at most per batch (backpressure)."
    )
    claim_idle: PositiveDuration = Field(
        default="3s",
        description="A consumer's pending events idle this long are claimed by another.",
    )


class StreamingPredictionSpec(Model):
    input: InputStream
    entity: Entity = Field(description="The event's entity: its fields named as the join keys.")
    features: list[FeatureRef] = Field(
        min_length=1,
        max_length=2000,
        description="<FeatureView>:<feature> references, in the order the model takes them.",
    )
    model: ModelChoice
    scoring: Scoring = section(Scoring)
    output: Output = section(Output)
    workers: Workers = section(Workers)
    prediction_log: PredictionLogging = section(PredictionLogging)
    freshness: PositiveDuration = Field(
        default="30s",
        description="Freshness SLO: the oldest event not yet scored may be at most this old.",
    )


class Backlog(Model):
    lag: int | None = Field(default=None, ge=0, description="Events not yet read by the group.")
    pending: int = Field(default=0, ge=0, description="Events read and not yet acknowledged.")
    oldest_seconds: float | None = Field(
        default=None, ge=0, description="Age of the oldest event not yet scored."
    )
    entries_read: int | None = Field(
        default=None, ge=0, description="Events the group has read, all time (Redis's counter)."
    )
    at: dt.datetime | None = None


class StreamingPredictionStatus(Status):
    model_version: RecordedName | None = Field(
        default=None, description="The registry version the workers score with."
    )
    workers: int = Field(default=0, ge=0, description="Consumer workers running.")
    backlog: Backlog | None = None
    events_per_second: float | None = Field(
        default=None, ge=0, description="Events the group read per second since the last look."
    )
    freshness_summary: ShortText | None = Field(
        default=None, description="For people: e.g. 'fresh' or '12s behind'."
    )
