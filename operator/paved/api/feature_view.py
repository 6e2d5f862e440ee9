"""FeatureView: one immutable version of a feature set, offline (Parquet) and online (Redis).

Everything that defines the features (entity, source, ttl, features) is immutable: a change is a
new FeatureView, a new version, never a mutation. Only how the view is operated (schedule,
stale policy) may change in place.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field

from paved.api.meta import (
    DataPath,
    Duration,
    Identifier,
    Model,
    PositiveDuration,
    RecordedName,
    ShortText,
    Status,
    cel,
    section,
    validated,
)

# Linux's PATH_MAX is 4096; a source path is relative to the data root and far shorter. A path
# of 40 KB was admitted once and then could not even be reported (the condition failed).
PATH_MAX_LENGTH = 1024


class DataType(StrEnum):
    INT64 = "int64"
    INT32 = "int32"
    FLOAT64 = "float64"
    FLOAT32 = "float32"
    STRING = "string"
    BOOL = "bool"
    TIMESTAMP = "timestamp"  # an instant, UTC, to the microsecond


# The dtypes that take min and max, and that drift and training treat as numbers.
NUMERIC_TYPES = frozenset({DataType.INT64, DataType.INT32, DataType.FLOAT64, DataType.FLOAT32})


class StalePolicy(StrEnum):
    """What an online read returns for a value older than its freshness SLO."""

    MARK = "mark"  # the value, flagged stale
    NULL = "null"  # no value


class Entity(Model):
    name: Identifier = Field(description="What the features describe, e.g. user.")
    join_keys: list[Identifier] = Field(
        min_length=1,
        max_length=8,
        description="Columns that identify one entity, in the source and in entity rows.",
        json_schema_extra={"x-kubernetes-list-type": "set"},
    )


class Source(Model):
    path: DataPath = Field(
        description=(
            "Parquet files: a path or glob relative to the namespace's data root"
            " (<data root>/<namespace>/); nothing it matches may be outside it."
        ),
    )
    timestamp_field: Identifier = Field(description="When the value was true (event time).")
    created_timestamp_field: Identifier | None = Field(
        default=None,
        description="When the row was written; rows count only from then on (no backfill leak).",
    )


class Feature(Model):
    model_config = validated(
        cel(
            "!has(self.min) || !has(self.max) || self.min <= self.max",
            "min must not be greater than max",
            ".min",
        ),
        cel(
            "(!has(self.min) && !has(self.max))"
            " || self.dtype in ['int64', 'int32', 'float64', 'float32']",
            "min and max apply to int64, int32, float64 and float32 features only",
            ".dtype",
        ),
    )

    name: Identifier
    dtype: DataType
    nullable: bool = True
    min: float | None = Field(default=None, description="Smallest valid value (numbers only).")
    max: float | None = Field(default=None, description="Largest valid value (numbers only).")
    freshness: PositiveDuration | None = Field(
        default=None, description="Freshness SLO: an online value older than this is stale."
    )
    description: str | None = Field(default=None, max_length=1024)


class Materialization(Model):
    interval: PositiveDuration = Field(
        default="1m", description="How often offline rows go online."
    )
    allowed_lateness: Duration = Field(
        default="1h",
        description=(
            "Rows whose event time is up to this much behind the watermark are still picked up."
            " Views with a created timestamp pick up late rows of any age."
        ),
    )
    enabled: bool = True


class Online(Model):
    stale_policy: StalePolicy = Field(default=StalePolicy.MARK)


class PointInTime(Model):
    created_cutoff: bool = Field(
        default=True,
        description=(
            "Joins count a source row only from its created time on (created <= entity time):"
            " what the online store would have served then, so a late backfill cannot leak"
            " into training. Off: event time alone decides, as in Feast. Views without a"
            " created timestamp are unaffected. See docs/point-in-time.md."
        ),
    )


_IMMUTABLE = "is immutable: a change is a new FeatureView (a new version), never a mutation"


class FeatureViewSpec(Model):
    entity: Entity = Field(
        json_schema_extra={
            "x-kubernetes-validations": [cel("self == oldSelf", f"entity {_IMMUTABLE}")]
        }
    )
    source: Source = Field(
        json_schema_extra={
            "x-kubernetes-validations": [cel("self == oldSelf", f"source {_IMMUTABLE}")]
        }
    )
    ttl: Duration = Field(
        default="0s",
        description="Point-in-time lookback and online expiry; 0s means no limit.",
        json_schema_extra={
            "x-kubernetes-validations": [cel("self == oldSelf", f"ttl {_IMMUTABLE}")]
        },
    )
    features: list[Feature] = Field(
        min_length=1,
        max_length=2000,
        json_schema_extra={
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "x-kubernetes-validations": [cel("self == oldSelf", f"features {_IMMUTABLE}")],
        },
    )
    materialization: Materialization = section(Materialization)
    online: Online = section(Online)
    point_in_time: PointInTime = section(PointInTime)

    model_config = validated(
        cel(
            "!self.features.exists(f, f.name in self.entity.joinKeys"
            " || f.name == self.source.timestampField)",
            "a feature may not be named like a join key or the timestamp field",
            ".features",
        ),
    )


class FeatureFreshness(Model):
    feature: Identifier
    lag_seconds: float | None = Field(default=None, description="None: never materialized.")
    slo_seconds: float | None = None
    ok: bool


class MaterializationRun(Model):
    at: dt.datetime
    rows: int = Field(ge=0)
    seconds: float = Field(ge=0)


class FeatureViewStatus(Status):
    version: RecordedName | None = Field(default=None, description="Content hash of the spec.")
    watermark: dt.datetime | None = Field(default=None, description="The newest event time online.")
    created_watermark: dt.datetime | None = Field(
        default=None, description="The newest created time online (views with one)."
    )
    last_materialization: MaterializationRun | None = None
    freshness: list[FeatureFreshness] = Field(default_factory=list)
    freshness_summary: ShortText | None = Field(
        default=None, description="For people: e.g. 'fresh' or '2/20 stale'."
    )
