"""BatchPrediction: a registered model scoring a set of entities on a trigger, its predictions
served from the online store like features and kept offline in Parquet, run by run.

A run is one (model version, as-of time): its features are read point-in-time as of that time,
and doing it again changes nothing. What to score and how the predictions are served may change
in place; each change of model version is a new prediction view (its own online keys).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field, field_validator, model_validator

from paved.api.cron import CronError, parse_cron
from paved.api.feature_view import PointInTime, StalePolicy
from paved.api.meta import (
    DataPath,
    Duration,
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


class EntitySource(Model):
    path: DataPath = Field(
        description=(
            "Parquet files with one row per entity to score, holding the FeatureView's join keys:"
            " a path or glob relative to the namespace's data root (<data root>/<namespace>/)."
        )
    )


class Entities(Model):
    feature_view: ObjectName = Field(
        description="The FeatureView whose entities are scored (its join keys key the output)."
    )
    source: EntitySource | None = Field(
        default=None, description="Score only these entities; none: every entity of the view."
    )


class Trigger(Model):
    model_config = validated(
        cel(
            "has(self.schedule) != (has(self.watermark) && self.watermark)",
            "exactly one of schedule (cron) and watermark (the entities' FeatureView's) must be "
            "set",
        ),
    )

    schedule: str | None = Field(
        default=None,
        max_length=256,
        pattern=r"^[0-9*,/-]+( [0-9*,/-]+){4}$",
        description=(
            "A cron schedule in UTC (minute hour day-of-month month day-of-week); each run is "
            "as of its scheduled time."
        ),
    )
    watermark: bool | None = Field(
        default=None,
        description="Run whenever the entities' FeatureView's watermark moves, as of it.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        if (self.schedule is None) == (not self.watermark):
            raise ValueError("exactly one of schedule and watermark: true must be set")
        return self

    @field_validator("schedule")
    @classmethod
    def _schedule_is_cron(cls, schedule: str | None) -> str | None:
        # Checked here so a bad schedule is an invalid spec at apply, never a silent no-run.
        if schedule is not None:
            try:
                parse_cron(schedule)
            except CronError as error:
                raise ValueError(f"schedule {schedule!r}: {error}") from None
        return schedule


class PredictionOutput(Model):
    ttl: Duration = Field(
        default="0s", description="Online expiry of a prediction after its as-of; 0s: no limit."
    )
    freshness: PositiveDuration | None = Field(
        default=None, description="Freshness SLO: a prediction older than this is stale."
    )
    stale_policy: StalePolicy = Field(default=StalePolicy.MARK)
    threshold: float = Field(
        default=0.5, ge=0, le=1, description="A score at or above it is a positive decision."
    )
    # How a model trained on these predictions (a hybrid) reads them. By default a label sees
    # only the predictions served by its time (a run's created time is when it was served), so
    # a score computed later, by a model that may have learnt from that label, cannot leak into
    # training (ADR 0042).
    point_in_time: PointInTime = section(PointInTime)


class ShadowLimits(Model):
    """How far a new model version's predictions may differ from the served ones, scored as of
    the same time, and still replace them without a person's say-so."""

    max_score_psi: float = Field(
        default=0.25, gt=0, description="Population stability index of the two score sets."
    )
    min_rank_agreement: float = Field(
        default=0.8, ge=-1, le=1, description="Spearman's rank correlation of the two score sets."
    )
    max_decision_flips: float = Field(
        default=0.1, ge=0, le=1, description="Share of entities whose decision (threshold) flips."
    )


class BatchPredictionSpec(Model):
    model: ModelChoice
    entities: Entities
    trigger: Trigger
    output: PredictionOutput = section(PredictionOutput)
    shadow: ShadowLimits = section(ShadowLimits)
    prediction_log: PredictionLogging = section(PredictionLogging)
    batch_rows: int = Field(
        default=100_000, ge=1_000, le=1_000_000, description="Entities scored per batch."
    )


class BatchPredictionPhase(StrEnum):
    PENDING = "Pending"  # nothing scored yet: waiting for a model, a watermark or a trigger
    SCORED = "Scored"  # the latest due run is served
    FAILED = "Failed"  # the latest due run failed; the served predictions stay


class PredictionRun(Model):
    """One run: what scored, as of when, what it wrote and how long it took."""

    as_of: dt.datetime
    model: RecordedName = Field(description="The registered model: <namespace>.<model>.")
    model_version: RecordedName = Field(description="The registry version that scored.")
    view_version: RecordedName = Field(description="The prediction view its values are under.")
    rows: int = Field(ge=0, description="Entities scored.")
    seconds: float = Field(ge=0)
    finished_at: dt.datetime
    path: ShortText = Field(description="The run's Parquet partition.")


class FailedRun(Model):
    """The run that failed last, and how often in a row: it is tried again, ever less often."""

    as_of: dt.datetime
    model_version: RecordedName
    attempts: int = Field(ge=1)
    at: dt.datetime
    reason: RecordedName
    message: ShortText


class ShadowVerdict(StrEnum):
    ACCEPTED = "Accepted"  # within the limits and allowed to serve: it replaced the served run
    HELD = "Held"  # outside a limit, or not allowed yet: the served run stays


class ShadowRecord(Model):
    """A new model version's run beside the served one, and how the two compare."""

    run: PredictionRun
    compared: int = Field(ge=0, description="Entities scored by both.")
    score_psi: float | None = None
    rank_agreement: float | None = None
    decision_flips: float | None = Field(default=None, ge=0, le=1)
    verdict: ShadowVerdict
    message: ShortText


class BatchPredictionStatus(Status):
    phase: BatchPredictionPhase | None = None
    served: PredictionRun | None = Field(
        default=None, description="The run whose predictions reads are served."
    )
    last_failure: FailedRun | None = None
    shadow: ShadowRecord | None = Field(
        default=None, description="A new model version's predictions, computed beside the served."
    )
    previous: PredictionRun | None = Field(
        default=None, description="The run the served one replaced: what a rollback restores."
    )
    rolled_back: RecordedName | None = Field(
        default=None, description="The model version rolled back: not shadowed again."
    )
    handled_rollback: ShortText | None = Field(
        default=None, description="The rollback request already carried out."
    )
    next_run_at: dt.datetime | None = Field(
        default=None, description="When the schedule's next run is due (scheduled triggers)."
    )
    message: ShortText | None = None
