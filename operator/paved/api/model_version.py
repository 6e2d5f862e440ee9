"""ModelVersion: one trained model, from a pipeline run to a registry stage, with its evidence.

What defines the candidate (model name, pipeline, features, labels) is immutable: retraining on
other data is a new ModelVersion. Gates and approval may still change.
"""

from __future__ import annotations

import datetime as dt
import keyword
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import Field, field_validator, model_validator
from pydantic.config import JsonDict

from paved.api import slice_filters
from paved.api.meta import (
    DataPath,
    FeatureRow,
    Identifier,
    Message,
    Model,
    ObjectName,
    ParameterMap,
    RecordedName,
    ShortText,
    Status,
    cel,
    flat_map,
    free_form,
    section,
    validated,
)
from paved.api.tasks import (
    METRICS,
    MetricName,
    Task,
    fitting_metric_message,
    fitting_metric_rule,
    fitting_metrics,
    misfit,
)

__all__ = ["MetricName", "Task"]  # MetricName's home is paved.api.tasks; imported from here too

# A Kubernetes user or group name, as the API server's authentication reports it.
Principal = Annotated[str, Field(min_length=1, max_length=512)]

_IMMUTABLE = "is immutable: train a new ModelVersion instead"


def _immutable(field: str) -> dict[str, Any]:
    return {"x-kubernetes-validations": [cel("self == oldSelf", f"{field} {_IMMUTABLE}")]}


# A dotted Python name (`team_pipelines.churn.pipeline`): checked as a name, never evaluated
# here; only the run's own process imports it (ADR 0037).
PackagePath = Annotated[
    str,
    Field(
        min_length=3,
        max_length=253,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$",
        description=(
            "An importable package path: a module, then the KFP pipeline function in it, e.g."
            " team_pipelines.churn.pipeline. The run's process imports it, never the operator."
        ),
    ),
]
# A ConfigMap key: what `kubectl create configmap --from-file` names a file's entry.
ConfigMapKey = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[-._a-zA-Z0-9]+$")]


class CompiledPipeline(Model):
    """A team's compiled KFP v2 pipeline (IR YAML) in a ConfigMap of this namespace."""

    config_map: ObjectName
    key: ConfigMapKey = "pipeline.yaml"


_ONE_PIPELINE: Final = "a pipeline is exactly one of name, compiled or package"
# On the field, beside its immutability: the field's rules replace the model's.
_PIPELINE_RULES: Final[JsonDict] = {
    "x-kubernetes-validations": [
        *_immutable("pipeline")["x-kubernetes-validations"],
        cel(
            "[has(self.name), has(self.compiled), has(self.package)].filter(k, k).size() == 1",
            _ONE_PIPELINE,
        ),
    ]
}


class PipelineSource(StrEnum):
    BUILT_IN = "builtIn"
    COMPILED = "compiled"
    PACKAGE = "package"


class Pipeline(Model):
    """Which pipeline trains: a built-in `name`, a team's `compiled` IR or `package`."""

    # A team's pipeline runs between paved's point-in-time join and its gates, and must meet
    # the pipeline contract (docs/pipeline-contract.md, ADR 0037).

    name: ObjectName | None = Field(
        default=None, description="A built-in training pipeline, e.g. tabular-classifier."
    )
    compiled: CompiledPipeline | None = None
    package: PackagePath | None = None
    parameters: ParameterMap = flat_map(
        "Pipeline parameters (hyper-parameters and options): a flat map of numbers, strings"
        " and booleans, as MLflow records them.",
        max_entries=64,
    )
    seed: int = Field(default=42, ge=0, le=2**31 - 1)

    @model_validator(mode="after")
    def _exactly_one(self) -> Pipeline:
        chosen = [self.name, self.compiled, self.package]
        if sum(value is not None for value in chosen) != 1:
            raise ValueError(_ONE_PIPELINE)
        return self

    @field_validator("package")
    @classmethod
    def _no_keyword(cls, path: str | None) -> str | None:
        # The pattern admits `class.x`, which no import can name.
        words = [word for word in (path or "").split(".") if keyword.iskeyword(word)]
        if words:
            raise ValueError(f"package: {words[0]!r} is a Python keyword, not a module name")
        return path

    @property
    def source(self) -> PipelineSource:
        if self.compiled is not None:
            return PipelineSource.COMPILED
        if self.package is not None:
            return PipelineSource.PACKAGE
        return PipelineSource.BUILT_IN

    @property
    def reference(self) -> str:
        """How messages and lineage name it."""
        if self.compiled is not None:
            return f"ConfigMap {self.compiled.config_map} key {self.compiled.key}"
        if self.package is not None:
            return f"package {self.package}"
        return str(self.name)


class FeatureSelection(Model):
    feature_view: ObjectName = Field(
        description=(
            "A FeatureView, or a BatchPrediction whose predictions are features of this model"
            " (a hybrid: `score`, `model_version`), read point-in-time as any view is."
        )
    )
    names: list[Identifier] = Field(
        min_length=1, max_length=2000, json_schema_extra={"x-kubernetes-list-type": "set"}
    )


class Labels(Model):
    path: DataPath = Field(
        description=(
            "Parquet file(s) with one label per entity row: a file, directory or glob relative"
            " to the namespace's data root (<data root>/<namespace>/)."
        )
    )
    entity_columns: list[Identifier] = Field(min_length=1, max_length=8)
    timestamp_column: Identifier
    label: Identifier
    query_column: Identifier | None = Field(
        default=None,
        description="A ranking task's query: the rows of one query are one list to rank, and "
        "the ranking metrics are averaged over queries. Only a ranking task has one.",
    )
    cohort_columns: list[Identifier] = Field(
        default_factory=list,
        max_length=16,
        description=(
            "Columns of the labels kept for slice gates and never trained on: protected "
            "attributes such as an age band, so a slice can check a cohort for harm."
        ),
    )


class SchemaGate(Model):
    enabled: bool = True


class DriftGate(Model):
    max_psi: float = Field(default=0.2, gt=0)
    top_features: int = Field(default=20, ge=1, le=2000)
    bins: int = Field(default=10, ge=2, le=100)


_CUT_OFF_METRICS: Final = [m.value for m, fit in METRICS.items() if fit.cut_off]
_ONE_EPSILON = cel(
    "!has(self.maxRelativeRegression) || self.maxRegression == 0.0",
    "give maxRegression (absolute) or maxRelativeRegression (a fraction of the reference's "
    "value), not both",
)
_RELATIVE_REGRESSION = Field(
    default=None,
    ge=0,
    le=1,
    description="How much worse than the reference is still acceptable, as a fraction of the "
    "reference's value on the same rows (0.01: 1%); instead of maxRegression.",
)


class MetricGate(Model):
    model_config = validated(
        _ONE_EPSILON,
        cel(
            f"!has(self.k) || self.name in {_CUT_OFF_METRICS}",
            f"k is the cut-off of {' and '.join(_CUT_OFF_METRICS)} only",
        ),
    )

    name: MetricName = Field(
        default=MetricName.AUC,
        description="The metric that judges the model; it must fit spec.task (auc, logLoss, "
        "accuracy, brier, expectedCalibrationError: binary; logLoss, accuracy, macroF1: "
        "multiclass; rmse, mae: regression; ndcg, map: ranking).",
    )
    k: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="ndcg and map: each query's top k items are judged (default 10); recorded "
        "as e.g. ndcg@10.",
    )
    max_regression: float = Field(
        default=0.0,
        ge=0,
        description="How much worse than the model serving now, on the same holdout, is still "
        "acceptable, in the metric's units.",
    )
    max_relative_regression: float | None = _RELATIVE_REGRESSION
    min_value: float | None = Field(
        default=None,
        description="Absolute floor, e.g. AUC 0.7; with no model serving to compare with, the "
        "slices are judged on it too.",
    )


class SliceGate(Model):
    model_config = validated(_ONE_EPSILON)

    name: Identifier
    where: str = Field(
        min_length=1,
        max_length=slice_filters.MAX_LENGTH,
        description=(
            "Which evaluation rows the slice holds: columns compared with literals (= != <> < <="
            " > >=), AND, OR, NOT, parentheses, IN (literal, ...), BETWEEN, IS [NOT] NULL;"
            " e.g. `tenure_days < 60 AND age_band IN ('65+', '55-64')`. No functions, casts,"
            " subqueries or comments."
        ),
    )
    max_regression: float = Field(default=0.0, ge=0)
    max_relative_regression: float | None = _RELATIVE_REGRESSION

    @model_validator(mode="after")
    def _where_is_a_filter(self) -> SliceGate:
        # Checked here so a filter outside the language is an invalid spec, named by slice,
        # long before a training run; the run parses it again before evaluating.
        try:
            slice_filters.parse(self.where)
        except slice_filters.FilterError as error:
            raise ValueError(f"slice {self.name}: where: {error}") from None
        return self


class GoldenCase(Model):
    name: str = Field(min_length=1, max_length=128)
    features: FeatureRow = flat_map(
        "The input row: feature name to a number, a string, a boolean or null.",
        max_entries=2000,
    )
    expect_label: int | None = Field(
        default=None, description="A classifier's expected class (binary: 0 or 1)."
    )
    expect_score_min: float | None = Field(
        default=None,
        description="The least score expected: a classifier's probability of its predicted "
        "class (binary: of the positive class), in [0, 1]; a regressor's value, unbounded.",
    )
    expect_score_max: float | None = Field(default=None, description="The most score expected.")


class Gates(Model):
    schema_: SchemaGate = section(SchemaGate, alias="schema")
    drift: DriftGate = section(DriftGate)
    metric: MetricGate = section(MetricGate)
    slices: list[SliceGate] = Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    golden: list[GoldenCase] = Field(default_factory=list, max_length=256)


class SignOff(Model):
    """A person's approval of one trained model: the registry version and the gates' results
    they saw. A retraining makes another version, so it voids the sign-off."""

    by: Principal = Field(
        description="The approver's Kubernetes user name; the API server checks it is the caller.",
    )
    registry_version: str = Field(
        min_length=1,
        max_length=64,
        description="The registry version approved; the API server checks it is status's.",
    )
    gates_digest: str = Field(
        min_length=1,
        max_length=80,
        description="status.gatesDigest when signing: the gates' results approved.",
    )
    groups: list[Principal] = Field(
        default_factory=list,
        max_length=64,
        description="The approver's groups as the API server authenticated them when signing.",
    )
    comment: str = Field(default="", max_length=2048)


class Approval(Model):
    approver_groups: list[Principal] = Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description=(
            "Narrows who may sign off (a PromotionPolicy's groups still apply). Whether a "
            "sign-off is needed at all is the PromotionPolicy's call, not the author's."
        ),
    )
    sign_off: SignOff | None = None


# The registry names a model `<namespace>.<model>` and stores names in 256 characters (MLflow's
# SQL stores): a 63-character namespace and the dot leave the model this many.
MAX_MODEL_NAME: Final = 192


class ModelChoice(Model):
    """Which model scores: a registered model's production version, or one ModelVersion."""

    model_config = validated(
        cel(
            "has(self.name) != has(self.modelVersion)",
            "exactly one of name (the production version of a registered model) and "
            "modelVersion (a pinned ModelVersion) must be set",
        ),
    )

    name: ObjectName | None = Field(
        default=None,
        max_length=MAX_MODEL_NAME,
        description="A ModelVersion's spec.model: its production version scores.",
    )
    model_version: ObjectName | None = Field(
        default=None, description="A ModelVersion in this namespace: its registry version scores."
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> ModelChoice:
        if (self.name is None) == (self.model_version is None):
            raise ValueError("exactly one of name and modelVersion must be set")
        return self


_CLASSIFIER_TASKS: Final = [Task.BINARY.value, Task.MULTICLASS.value]
# `has` before `all`, not `.?golden.orValue([])`: the optional loses the list's maxItems, and
# the API server would then estimate the rule's cost as if the list were unbounded.
_GOLDEN = "!has(self.gates.golden) || self.gates.golden"
_SCORES_IN_UNIT = (
    f"{_GOLDEN}.all(c, "
    + " && ".join(
        f"(!has(c.{bound}) || (c.{bound} >= 0.0 && c.{bound} <= 1.0))"
        for bound in ("expectScoreMin", "expectScoreMax")
    )
    + ")"
)


# The API server's rule that the metric gate's metric fits the task (a spec's or a template's).
FITTING_METRIC: Final[JsonDict] = {
    "rule": fitting_metric_rule("self.gates.metric.name", "self.task"),
    "messageExpression": fitting_metric_message("self.gates.metric.name", "self.task"),
    "message": f"the metric gate's metric must fit the task ({fitting_metrics()})",
    "fieldPath": ".gates.metric.name",
}

QUERY_COLUMN: Final = cel(
    "has(self.labels.queryColumn) == (self.task == 'ranking')",
    "labels.queryColumn names a ranking task's query, and only a ranking task has one",
    ".labels.queryColumn",
)


class ModelVersionSpec(Model):
    model_config = validated(
        FITTING_METRIC,
        QUERY_COLUMN,
        cel(
            f"!(self.task in {_CLASSIFIER_TASKS}) || {_SCORES_IN_UNIT}",
            "a classifier's golden expectScoreMin and expectScoreMax are probabilities, in [0, 1]",
            ".gates.golden",
        ),
        cel(
            f"self.task in {_CLASSIFIER_TASKS} || {_GOLDEN}.all(c, !has(c.expectLabel))",
            "golden expectLabel is a classifier's: a regressor or ranker expects a score range",
            ".gates.golden",
        ),
    )

    model: Annotated[ObjectName, Field(max_length=MAX_MODEL_NAME)] = Field(
        description="The model's name; the registry names it `<namespace>.<model>`, so two "
        "namespaces' models of the same name are two models.",
        json_schema_extra=_immutable("model"),
    )
    task: Task = Field(
        default=Task.BINARY,
        description="What the model predicts: binary (the positive class's probability), "
        "multiclass (each class's probability), regression (a number) or ranking (an order of "
        "each query's items). It decides which metrics may judge it.",
        json_schema_extra=_immutable("task"),
    )
    pipeline: Pipeline = Field(json_schema_extra=_PIPELINE_RULES)
    features: list[FeatureSelection] = Field(
        min_length=1, max_length=32, json_schema_extra=_immutable("features")
    )
    labels: Labels = Field(json_schema_extra=_immutable("labels"))
    gates: Gates = section(Gates)
    approval: Approval = section(Approval)

    @model_validator(mode="after")
    def _fits_the_task(self) -> ModelVersionSpec:
        # The API server's rules above say the same; this holds for what never met it (a
        # template, a training request built from a spec).
        problem = misfit(self.task, self.gates.metric.name)
        if problem is None and (self.labels.query_column is not None) != (
            self.task is Task.RANKING
        ):
            problem = "labels.queryColumn names a ranking task's query, and only a ranking task's"
        if problem is not None:
            raise ValueError(problem)
        return self


class Stage(StrEnum):
    TRAINED = "Trained"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"


class ModelVersionPhase(StrEnum):
    PENDING = "Pending"
    TRAINING = "Training"
    EVALUATING = "Evaluating"
    HELD = "Held"  # trained and registered, but a gate failed: not promoted
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"
    FAILED = "Failed"


class RunRecord(Model):
    # The training run, as the status records it (the runner's report is core's PipelineRun).
    id: RecordedName
    key: RecordedName = Field(description="<uid>-<hash of the training input>: one run per key.")
    state: RecordedName
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


class RegistryEntry(Model):
    name: RecordedName
    version: RecordedName
    uri: ShortText | None = None
    run_id: RecordedName | None = Field(default=None, description="The MLflow run that trained it.")


class FeatureViewVersion(Model):
    name: RecordedName
    version: RecordedName


class UpstreamModels(Model):
    """A hybrid's: the models whose predictions, served by a BatchPrediction, it trained on."""

    batch_prediction: RecordedName
    model_versions: list[RecordedName] = Field(
        default_factory=list,
        max_length=64,
        description="<registered model>/<registry version>, each that its label rows were served.",
    )


class Lineage(Model):
    dataset_hash: RecordedName | None = None
    feature_views: list[FeatureViewVersion] = Field(default_factory=list)
    upstream_models: list[UpstreamModels] = Field(default_factory=list, max_length=32)
    code_commit: RecordedName | None = None
    parameters: dict[str, Any] = free_form("The parameters the run used.")
    metrics: dict[str, float] = Field(default_factory=dict)
    slice_metrics: dict[str, float] = Field(
        default_factory=dict,
        description="The gate metric on each slice of the holdout (gates.slices), by slice: "
        "what a ModelMonitor judges the live slices against.",
    )


class GateResult(Model):
    name: RecordedName
    verdict: RecordedName
    value: float | None = None
    threshold: float | None = None
    message: Message = ""


class ApprovalRecord(Model):
    by: ShortText
    at: dt.datetime
    comment: Message = ""


class ModelVersionStatus(Status):
    phase: ModelVersionPhase | None = None
    stage: Stage | None = None
    run: RunRecord | None = None
    registry: RegistryEntry | None = None
    lineage: Lineage | None = None
    gates: list[GateResult] = Field(default_factory=list)
    gates_summary: ShortText | None = Field(
        default=None, description="For people: e.g. '5/5 passed'."
    )
    gates_digest: ShortText | None = Field(
        default=None, description="A digest of the gates' results: what a sign-off approves."
    )
    approval: ApprovalRecord | None = None
