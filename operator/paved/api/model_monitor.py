"""ModelMonitor: watch whatever version of a model is production, on a schedule (ADR 0031).

Each check is a section of the spec, each optional, each a condition of the status: the
guardrails a Rollout judged (on the production arm, continuously), input drift (PSI per
feature, training set against the logged inputs of the recent window), prediction drift
(the window's logged scores against the version's own before its promotion) and performance
(the gate metric on the predictions whose outcomes arrived, against the version's evaluation
at training time; ADR 0040), freshness per served entity and training/serving skew (the logged
feature values against the offline store's point-in-time ones; ADR 0043).
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field, model_validator

from paved.api.meta import (
    Identifier,
    Message,
    Model,
    ObjectName,
    ParameterMap,
    PositiveDuration,
    PrometheusRange,
    RecordedName,
    ShortText,
    Status,
    cel,
    flat_map,
    section,
    validated,
)
from paved.api.model_version import (
    FITTING_METRIC,
    MAX_MODEL_NAME,
    QUERY_COLUMN,
    Approval,
    FeatureSelection,
    Gates,
    Labels,
    Pipeline,
)
from paved.api.rollout import Guardrail, Target
from paved.api.tasks import MetricName, Task

# PSI bins of a numeric feature: the gates' default.
DEFAULT_BINS = 10


class InputDrift(Model):
    max_psi: float = Field(
        default=0.2, gt=0, le=10, description="Alarm above this PSI (or the noise floor)."
    )
    features: list[Identifier] = Field(
        default_factory=list,
        max_length=2000,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="The features judged; empty: every feature the production version trained on.",
    )
    bins: int = Field(default=DEFAULT_BINS, ge=2, le=100, description="Bins of a numeric feature.")


class PredictionDrift(Model):
    max_psi: float = Field(
        default=0.2, gt=0, le=10, description="Alarm above this PSI (or the noise floor)."
    )
    bins: int = Field(default=DEFAULT_BINS, ge=2, le=100)


class Performance(Model):
    """Live performance: the metric on the logged predictions whose outcomes are known (Seldon
    feedback's truth by request id; else a label of `labels` by entity, within `labelHorizon`),
    against what the production version measured on its holdout when it was trained."""

    metric: MetricName | None = Field(
        default=None,
        description="The metric judged; default: the production version's metric gate's. It "
        "must fit the version's task (ranking metrics are not judged live).",
    )
    max_regression: float = Field(
        default=0.05,
        ge=0,
        le=1_000_000,
        description="Alarm when live is worse than at training by more, in the metric's units.",
    )
    window: PositiveDuration = Field(
        default="1d",
        description="The predictions judged: those served this long ago until now (outcomes "
        "come late, so usually longer than the monitor's window).",
    )
    label_horizon: PositiveDuration = Field(
        default="1d",
        description="How long after a prediction a label of its entity still judges it.",
    )
    labels: Labels | None = Field(
        default=None,
        description="A label source by entity and time (Parquet under the namespace's data "
        "root), besides Seldon feedback's truth.",
    )
    min_labels: int = Field(
        default=200,
        ge=1,
        le=10_000_000,
        description="Judged predictions (an outcome known) the metric needs; fewer: Unknown.",
    )


class Freshness(Model):
    """Per entity: of the entities the production version served in the window (the most
    recently served first), those whose online features are missing, past their view's ttl or a
    feature's freshness SLO, or older than `maxAge`; not only the view's newest event."""

    max_age: PositiveDuration | None = Field(
        default=None,
        description="An entity whose features' newest event is older than this is stale too; "
        "none: only the views' ttl and the features' freshness SLOs judge age.",
    )
    max_stale_fraction: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Alarm when more of the served entities than this (0..1) are stale.",
    )
    max_entities: int = Field(
        default=10_000,
        ge=1,
        le=1_000_000,
        description="Entities read from the online store at most: the most recently served.",
    )


class Skew(Model):
    """Training/serving skew on a sample: the feature values the production version saw when it
    served (the prediction log) against the offline store's point-in-time values for the same
    entity at the same moment (what a training set built from the log's labels would read)."""

    sample: int = Field(
        default=1000,
        ge=1,
        le=100_000,
        description="Logged predictions compared at most, spread evenly over the window.",
    )
    max_mismatch_rate: float = Field(
        default=0.01,
        ge=0,
        le=1,
        description="Alarm when any feature differs in more of the sampled predictions than "
        "this (0..1).",
    )
    tolerance: float = Field(
        default=1e-6,
        ge=0,
        le=1,
        description="Two numbers are equal within this, relative to the larger (or absolute "
        "below 1).",
    )
    features: list[Identifier] = Field(
        default_factory=list,
        max_length=2000,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="The features compared; empty: every feature the production version "
        "trained on.",
    )


class MonitorGuardrails(Model):
    window: PrometheusRange = Field(default="5m", description="The range each reading covers.")
    rules: list[Guardrail] = Field(
        min_length=1,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.all(g, !has(g.builtin) || g.builtin != 'scoreDrift')",
                    "scoreDrift compares two arms; a monitor watches one: use predictionDrift",
                ),
                cel(
                    "self.all(g, !has(g.vsBaseline))",
                    "vsBaseline compares two arms; a monitor watches one: give max or maxMs",
                ),
            ]
        },
        description="The Rollout's guardrails, judged on the production arm.",
    )


class RetrainTrigger(StrEnum):
    """A check whose alarm may start a retraining (its condition type)."""

    INPUT_DRIFT = "InputDrift"
    PREDICTION_DRIFT = "PredictionDrift"
    PERFORMANCE_DROPPED = "PerformanceDropped"
    FEATURES_STALE = "FeaturesStale"


# Pipeline parameters the monitor adds to a retraining's (its lineage: why and by whom).
RETRAIN_PARAMETERS = 2


class TemplatePipeline(Pipeline):
    parameters: ParameterMap = flat_map(
        "Pipeline parameters, as a ModelVersion's; the monitor adds retrained_because and"
        " retrained_by (the retraining's lineage), so two fewer than a ModelVersion's 64.",
        max_entries=64 - RETRAIN_PARAMETERS,
    )


class ModelVersionTemplate(Model):
    """The next ModelVersion's spec, its model aside (the monitor's): a retraining goes through
    the gates, the sign-off and a Rollout like any other version."""

    model_config = validated(
        cel(
            "!has(self.approval) || !has(self.approval.signOff)",
            "a template carries no sign-off: a person signs off the version it makes",
            ".approval",
        ),
        FITTING_METRIC,
        QUERY_COLUMN,
    )

    task: Task = Field(
        default=Task.BINARY, description="What the model predicts, as a ModelVersion's spec.task."
    )
    pipeline: TemplatePipeline
    features: list[FeatureSelection] = Field(min_length=1, max_length=32)
    labels: Labels
    gates: Gates = section(Gates)
    approval: Approval = section(Approval)


class LabelSource(StrEnum):
    """Where a retraining's labels come from."""

    TEMPLATE = "template"  # the template's labels, as given
    # The prediction log's judged predictions of the last labelWindow: each entity, when it was
    # served (the time its features are joined as of) and its outcome.
    PREDICTION_LOG = "predictionLog"


class Retrain(Model):
    model_config = validated(
        cel(
            "size(self.when) > 0 || has(self.every) || has(self.afterLabels)",
            "a retraining needs a trigger: when (a check's alarm), every or afterLabels",
        )
    )

    when: list[RetrainTrigger] = Field(
        default_factory=lambda: [RetrainTrigger.INPUT_DRIFT],
        max_length=4,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="The checks whose alarm, held over two checks in a row, starts a retraining.",
    )
    every: PositiveDuration | None = Field(
        default=None,
        description="Also retrain on a schedule: this long after the last retraining started "
        "(or, before any, the production version's promotion).",
    )
    after_labels: int | None = Field(
        default=None,
        ge=1,
        le=1_000_000_000,
        description="Also retrain once this many logged predictions have a known outcome since "
        "the last retraining started (or the production version's promotion).",
    )

    @model_validator(mode="after")
    def _has_a_trigger(self) -> Retrain:
        if not self.when and self.every is None and self.after_labels is None:
            raise ValueError(
                "a retraining needs a trigger: when (a check's alarm), every or afterLabels"
            )
        return self

    template: ModelVersionTemplate
    cool_down: PositiveDuration = Field(
        default="24h", description="At least this long between two retrainings' starts."
    )
    labels_from: LabelSource = Field(
        default=LabelSource.TEMPLATE,
        description="template: the template's labels. predictionLog: the logged predictions of "
        "the last labelWindow whose outcomes are known, written as a labels file whose columns "
        "are the template's labels' (entityColumns, timestampColumn, label).",
    )
    label_window: PositiveDuration = Field(
        default="7d", description="predictionLog: how far back the labelled predictions go."
    )
    min_labels: int = Field(
        default=500,
        ge=1,
        le=100_000_000,
        description="predictionLog: fewer labelled predictions than this and nothing is trained.",
    )


class RevertTrigger(StrEnum):
    """A check whose alarm puts the previous production version back (its condition type)."""

    GUARDRAIL_BREACHED = "GuardrailBreached"  # at once, as a Rollout rolls back on a breach
    PERFORMANCE_DROPPED = "PerformanceDropped"  # held over two checks in a row


class RevertPolicy(Model):
    """Put the version production had before back, through the Rollout that promoted the
    current one (as `paved model revert` does): traffic and registry, with the evidence as the
    reason. At most once per production version."""

    when: list[RevertTrigger] = Field(
        default_factory=lambda: [RevertTrigger.GUARDRAIL_BREACHED],
        min_length=1,
        max_length=2,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="GuardrailBreached reverts at its first alarm; PerformanceDropped once it "
        "has alarmed at two checks in a row.",
    )


class Actions(Model):
    retrain: Retrain | None = None
    revert: RevertPolicy | None = None


class ModelMonitorSpec(Model):
    model_config = validated(
        cel(
            "has(self.guardrails) || has(self.inputDrift) || has(self.predictionDrift)"
            " || has(self.performance) || has(self.freshness) || has(self.skew)",
            "a monitor needs at least one check: guardrails, inputDrift, predictionDrift,"
            " performance, freshness or skew",
        ),
        cel(
            "!has(self.actions.retrain) || self.actions.retrain.when.all(t,"
            " t == 'InputDrift' ? has(self.inputDrift) : t == 'PredictionDrift' ?"
            " has(self.predictionDrift) : t == 'FeaturesStale' ? has(self.freshness) :"
            " has(self.performance))",
            "a retraining is triggered by a check the monitor runs: configure inputDrift,"
            " predictionDrift, performance or freshness for each of actions.retrain.when",
            ".actions.retrain.when",
        ),
        cel(
            "!has(self.guardrails) || has(self.target)",
            "guardrails read the serving object's metrics: give a target",
            ".guardrails",
        ),
        cel(
            "!has(self.actions.revert) || self.actions.revert.when.all(t,"
            " t == 'GuardrailBreached' ? has(self.guardrails) : has(self.performance))",
            "a revert is triggered by a check the monitor runs: configure guardrails or"
            " performance for each of actions.revert.when",
            ".actions.revert.when",
        ),
    )

    model: ObjectName = Field(
        max_length=MAX_MODEL_NAME,
        description="The model watched (the ModelVersions' spec.model): its production version.",
    )
    target: Target | None = Field(
        default=None,
        description="The serving object that serves the production version online: checked "
        "to serve it before anything is judged, and read by the guardrails. None: a model "
        "served by batch or streaming predictions alone, judged on what they logged.",
    )
    interval: PositiveDuration = Field(default="5m", description="How often the checks run.")
    window: PositiveDuration = Field(
        default="1h", description="How much recent prediction log each check reads."
    )
    min_samples: int = Field(
        default=200,
        ge=1,
        le=10_000_000,
        description="Logged predictions a check needs to judge; fewer: Unknown, never a pass.",
    )
    guardrails: MonitorGuardrails | None = None
    input_drift: InputDrift | None = None
    prediction_drift: PredictionDrift | None = None
    performance: Performance | None = None
    freshness: Freshness | None = None
    skew: Skew | None = None
    actions: Actions = section(Actions)

    @model_validator(mode="after")
    def _triggers_are_checks(self) -> ModelMonitorSpec:
        if self.guardrails is not None and self.target is None:
            raise ValueError("guardrails read the serving object's metrics: give a target")
        retrain = self.actions.retrain
        run = {
            RetrainTrigger.INPUT_DRIFT: self.input_drift is not None,
            RetrainTrigger.PREDICTION_DRIFT: self.prediction_drift is not None,
            RetrainTrigger.PERFORMANCE_DROPPED: self.performance is not None,
            RetrainTrigger.FEATURES_STALE: self.freshness is not None,
        }
        missing = [t.value for t in retrain.when if not run[t]] if retrain else []
        if missing:
            raise ValueError(f"actions.retrain.when: {missing[0]} is not a check this monitor runs")
        revert = self.actions.revert
        judged = {
            RevertTrigger.GUARDRAIL_BREACHED: self.guardrails is not None,
            RevertTrigger.PERFORMANCE_DROPPED: self.performance is not None,
        }
        unjudged = [t.value for t in revert.when if not judged[t]] if revert else []
        if unjudged:
            raise ValueError(f"actions.revert.when: {unjudged[0]} is not a check this monitor runs")
        return self


class Histogram(Model):
    """A reference distribution, kept so the training set is read once per production version:
    numeric bins by their inner edges (the last bin counts nulls), or categories (then an
    'other' bin and a null bin)."""

    feature: RecordedName
    edges: list[float] = Field(default_factory=list, max_length=100)
    categories: list[RecordedName] = Field(default_factory=list, max_length=1000)
    counts: list[float] = Field(max_length=1002)
    rows: int = Field(ge=0)


class References(Model):
    """What the production version is judged against: computed once per version."""

    version: RecordedName = Field(description="The registry version they belong to.")
    features: list[Histogram] = Field(default_factory=list, max_length=2000)
    scores: Histogram | None = Field(
        default=None, description="Its logged scores over the window before its promotion."
    )
    computed_at: dt.datetime
    message: Message = ""


class CheckResult(Model):
    check: RecordedName
    state: RecordedName = Field(description="ok, alarm or unknown.")
    value: float | None = None
    threshold: float | None = None
    samples: int | None = Field(default=None, ge=0)
    message: Message = ""


class FeatureDriftResult(Model):
    feature: RecordedName
    psi: float
    threshold: float


class FeatureSkewResult(Model):
    feature: RecordedName
    mismatch_rate: float = Field(ge=0, le=1)
    compared: int = Field(ge=0, description="Sampled predictions that carried the feature.")
    threshold: float


class MetricReading(Model):
    """The live metric over one day of the judged predictions, or over those in one slice, or
    over all of them (neither day nor slice)."""

    metric: RecordedName
    day: dt.date | None = Field(default=None, description="The day served; none: every day.")
    slice: RecordedName | None = Field(
        default=None,
        description="The production version's slice (its gates') the predictions were in, by "
        "the features they were served; none: every prediction.",
    )
    trained: float | None = Field(
        default=None, description="A slice's metric on the holdout at training, when recorded."
    )
    value: float | None = Field(default=None, description="None: not computable on these rows.")
    judged: int = Field(ge=0, description="Predictions with a known outcome.")


class RetrainingRecord(Model):
    """The last retraining this monitor started."""

    model_version: RecordedName
    trigger: RecordedName = Field(
        description="What started it: a check's alarm (its condition), Schedule or NewLabels."
    )
    evidence: Message = Field(description="What the check read, e.g. 'clicks_7d PSI 0.31 > 0.2'.")
    started_at: dt.datetime


class RevertRecord(Model):
    """The last revert this monitor asked for."""

    rollout: RecordedName = Field(description="The Rollout that promoted the reverted version.")
    version: RecordedName = Field(description="The registry version it reverted.")
    trigger: RecordedName
    evidence: Message
    requested_at: dt.datetime


class ModelMonitorStatus(Status):
    model_version: RecordedName | None = Field(
        default=None, description="The registry version watched: production at the last check."
    )
    references: References | None = None
    checks: list[CheckResult] = Field(default_factory=list)
    drift: list[FeatureDriftResult] = Field(default_factory=list)
    skew: list[FeatureSkewResult] = Field(default_factory=list, max_length=2000)
    performance: list[MetricReading] = Field(
        default_factory=list,
        max_length=400,
        description="The live metric over the judged predictions, then per slice of the "
        "production version's gates, then per day served.",
    )
    retraining: RetrainingRecord | None = None
    revert: RevertRecord | None = None
    last_checked_at: dt.datetime | None = None
    next_check_at: dt.datetime | None = None
    summary: ShortText | None = Field(
        default=None, description="For people: 'healthy', or the checks that alarm."
    )
