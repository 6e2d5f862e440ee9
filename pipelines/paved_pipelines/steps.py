"""The training pipeline's steps as plain functions; the KFP components only wrap them.

Each step is deterministic in its inputs and seed, so the same data, code, parameters and seed
give the same model and the same predictions.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from contextlib import closing
from dataclasses import dataclass, field, replace
from typing import Any, assert_never

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from paved.adapters.offline.duckdb import DuckDBEngine, locked_connection
from paved.adapters.offline.parquet import data_files
from paved.api import slice_filters
from paved.api.feature_view import NUMERIC_TYPES, DataType
from paved.api.model_version import Gates, Labels
from paved.api.tasks import DEFAULT_CUT_OFF, Task, higher_is_better, metric_key
from paved.core.batch_predictions import MODEL_VERSION
from paved.core.data_paths import namespace_root
from paved.core.feature_views import FeatureDefinition, ViewDefinition, view_definition
from paved.core.gates import (
    NO_REFERENCE,
    ColumnProfile,
    GateVerdict,
    GoldenResult,
    Reference,
    Value,
    Verdict,
    drift_gate,
    drift_not_judged,
    epsilon,
    golden_gate,
    metric_gate,
    most_important,
    schema_gate,
    slice_gate,
)
from paved.core.metrics import Scored, measure
from paved.ports.offline import FeatureRequest, JoinOptions
from paved_pipelines.request import TrainingRequest

LABEL = "__label"


class TrainingDataError(ValueError):
    """The labels or features cannot make a training set; the message says which and why."""


def feature_definitions(request: TrainingRequest) -> dict[str, FeatureDefinition]:
    """The selected features by column name, as their FeatureViews declare them."""
    views = resolve_views(request)
    selected: dict[str, FeatureDefinition] = {}
    for selection in request.features:
        view = views[selection.feature_view]
        for name in selection.names:
            if name not in view.feature_names:
                raise TrainingDataError(
                    f"FeatureView {view.name} has no feature {name!r} "
                    f"(it has: {', '.join(view.feature_names)})"
                )
            selected[name] = view.feature(name)
    return selected


def resolve_views(request: TrainingRequest) -> dict[str, ViewDefinition]:
    views = {}
    for selection in request.features:
        spec = request.feature_views.get(selection.feature_view)
        if spec is None:
            raise TrainingDataError(f"FeatureView {selection.feature_view} was not provided")
        view = view_definition(
            selection.feature_view, spec, request.data_root, namespace=request.namespace
        )
        served = request.batch_predictions.get(selection.feature_view)
        views[selection.feature_view] = view if served is None else replace(view, version=served)
    return views


def dataset_hash(table: pa.Table) -> str:
    """SHA-256 over every row and the schema (not a sample, unlike MLflow's digest)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def query_of(labels: Labels) -> list[str]:
    """The labels' query column, for a ranking task (it has one), else none."""
    return [labels.query_column] if labels.query_column else []


def _labelled(request: TrainingRequest) -> tuple[pa.Table, pa.Table]:
    """The label rows as read, and their entity rows (keys, time, label) for the join."""
    labels = request.labels
    root = str(namespace_root(request.data_root, request.namespace))
    path = f"{root}/{labels.path}"
    # Only files under the namespace's data root, links resolved (PathOutsideDataRootError).
    files = data_files("spec.labels.path", labels.path, root)
    if not files:
        raise TrainingDataError(f"labels at {path}: no such file")
    try:
        label_rows = ds.dataset(files, format="parquet").to_table()
    except (FileNotFoundError, pa.ArrowInvalid) as error:
        raise TrainingDataError(f"labels at {path}: {error}") from error
    kept = [*query_of(labels), *labels.cohort_columns]
    wanted = [*labels.entity_columns, labels.timestamp_column, labels.label, *kept]
    missing = [c for c in wanted if c not in label_rows.column_names]
    if missing:
        raise TrainingDataError(f"labels at {path} lack column(s) {', '.join(missing)}")
    if label_rows.num_rows == 0:
        raise TrainingDataError(f"labels at {path} have no rows")
    keys = [*labels.entity_columns, labels.timestamp_column, labels.label]
    entity_rows = label_rows.select(keys).rename_columns(
        [*labels.entity_columns, labels.timestamp_column, LABEL]
    )
    return label_rows, entity_rows


def data_lineage(request: TrainingRequest, table: pa.Table) -> dict[str, Any]:
    """What `prepare` records of the data a run trains on: its size and hash, the views' versions
    and, for a hybrid, the models whose predictions it read."""
    return {
        "rows": table.num_rows,
        "datasetHash": dataset_hash(table),
        "featureViews": {name: view.version for name, view in resolve_views(request).items()},
        "upstreamModels": upstream_models(request),
    }


def upstream_models(request: TrainingRequest) -> dict[str, list[str]]:
    """By BatchPrediction a hybrid reads: the models (`<registered model>/<version>`) whose
    predictions its label rows were served, point-in-time as the training set reads them."""
    if not request.batch_predictions:
        return {}
    _, entity_rows = _labelled(request)
    views = resolve_views(request)
    requests = [FeatureRequest(views[n], (MODEL_VERSION,)) for n in request.batch_predictions]
    options = JoinOptions(request.labels.timestamp_column, full_feature_names=True)
    joined = DuckDBEngine().historical_features(entity_rows, requests, options)
    return {
        name: sorted(pc.unique(joined[f"{name}__{MODEL_VERSION}"].drop_null()).to_pylist())
        for name in request.batch_predictions
    }


def build_training_set(request: TrainingRequest) -> pa.Table:
    """Labels joined point-in-time with the selected features: one row per label row."""
    labels = request.labels
    label_rows, entity_rows = _labelled(request)
    kept = [*query_of(labels), *labels.cohort_columns]
    definitions = feature_definitions(request)
    views = resolve_views(request)
    requests = [FeatureRequest(views[s.feature_view], tuple(s.names)) for s in request.features]
    joined = DuckDBEngine().historical_features(
        entity_rows, requests, JoinOptions(entity_timestamp_column=labels.timestamp_column)
    )
    matched = np.zeros(joined.num_rows, dtype=bool)
    for name in definitions:
        matched |= joined.column(name).is_valid().to_numpy(zero_copy_only=False)
    if not matched.any():
        raise TrainingDataError(
            f"no label row matched any feature row: check that the labels' "
            f"{', '.join(labels.entity_columns)} values and timestamps meet the FeatureViews'"
        )
    # The join keeps every entity row in order, so cohorts (and a ranker's query) line up row
    # for row; training reads only the features, so they reach the gates and never the model.
    for column in kept:
        if column in joined.column_names:
            raise TrainingDataError(f"label column {column!r} is also a feature")
        joined = joined.append_column(column, label_rows.column(column))
    return joined


def split_by_time(
    table: pa.Table, timestamp_column: str, validation_fraction: float
) -> tuple[pa.Table, pa.Table]:
    """Earlier rows train, the latest `validation_fraction` validate: no look into the future."""
    order = np.argsort(table.column(timestamp_column).to_numpy(), kind="stable")
    ordered = table.take(pa.array(order))
    cut = math.floor(ordered.num_rows * (1 - validation_fraction))
    if cut == 0 or cut == ordered.num_rows:
        raise TrainingDataError(f"{ordered.num_rows} rows are too few to split for validation")
    return ordered.slice(0, cut), ordered.slice(cut)


def _frame(table: pa.Table, features: Mapping[str, FeatureDefinition]) -> Any:
    selected = table.select(list(features))
    for name, feature in features.items():
        if feature.dtype == DataType.TIMESTAMP:  # a model takes an instant as epoch seconds
            seconds = pc.divide(selected[name].cast(pa.int64()).cast(pa.float64()), 1e6)
            selected = selected.set_column(selected.schema.get_field_index(name), name, seconds)
    frame = selected.to_pandas()
    for name, feature in features.items():
        if feature.dtype in (DataType.STRING, DataType.BOOL):
            frame[name] = frame[name].astype("object").where(frame[name].notna(), None)
        else:
            frame[name] = frame[name].astype("float64")
    return frame


def _categorical(features: Mapping[str, FeatureDefinition]) -> list[str]:
    return [n for n, f in features.items() if f.dtype in (DataType.STRING, DataType.BOOL)]


def _trees_encoding(features: Mapping[str, FeatureDefinition]) -> ColumnTransformer:
    """Categories as ordinals (unseen and missing: NaN), numbers as they are: what the
    gradient-boosted trees take, categorical splits and missing values included."""
    categorical = _categorical(features)
    ordinal = OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan
    )
    return ColumnTransformer(
        [
            ("categorical", ordinal, categorical),
            ("numeric", "passthrough", [n for n in features if n not in categorical]),
        ],
        verbose_feature_names_out=False,
    )


def _linear_encoding(features: Mapping[str, FeatureDefinition]) -> ColumnTransformer:
    """Categories one-hot (unseen: all zeros), numbers median-imputed and standardised: a
    linear model takes no missing value and weighs every column on one scale."""
    categorical = _categorical(features)
    one_hot = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing")),
            ("encode", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    scaled = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    return ColumnTransformer(
        [
            ("categorical", one_hot, categorical),
            ("numeric", scaled, [n for n in features if n not in categorical]),
        ],
        verbose_feature_names_out=False,
    )


def _estimator(
    task: Task, features: Mapping[str, FeatureDefinition], parameters: Mapping[str, Any], seed: int
) -> Pipeline:
    """The built-in pipeline's model for `task`: gradient-boosted trees for binary and
    regression, a multinomial logistic regression for multiclass."""
    trees = {
        "max_depth": int(parameters.get("max_depth", 4)),
        "learning_rate": float(parameters.get("learning_rate", 0.1)),
        "max_iter": int(parameters.get("n_estimators", 100)),
        "categorical_features": [True] * len(_categorical(features))
        + [False] * (len(features) - len(_categorical(features))),
        "early_stopping": False,
        "random_state": seed,
    }
    match task:
        case Task.BINARY:
            classify = HistGradientBoostingClassifier(**trees)
            return Pipeline([("encode", _trees_encoding(features)), ("classify", classify)])
        case Task.REGRESSION:
            regress = HistGradientBoostingRegressor(**trees)
            return Pipeline([("encode", _trees_encoding(features)), ("regress", regress)])
        case Task.MULTICLASS:
            # scikit-learn's lbfgs fits the multinomial (softmax) loss for more than two classes.
            linear = LogisticRegression(
                C=float(parameters.get("C", 1.0)),
                max_iter=int(parameters.get("max_iter", 1000)),
                random_state=seed,
            )
            return Pipeline([("encode", _linear_encoding(features)), ("classify", linear)])
        case Task.RANKING:
            raise TrainingDataError(
                "the built-in pipeline trains binary, multiclass and regression models; "
                "a ranker needs a ranking pipeline"
            )
        case _ as unreachable:
            assert_never(unreachable)


def labels_of(table: pa.Table, task: Task) -> Any:
    """The label column as the task's model learns it: a class id, or a number."""
    column = table.column(LABEL)
    if task is Task.REGRESSION:
        if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
            raise TrainingDataError(f"a regression's label is a number, not {column.type}")
        return column.to_numpy(zero_copy_only=False).astype(np.float64)
    if not (pa.types.is_integer(column.type) or pa.types.is_boolean(column.type)):
        raise TrainingDataError(f"a classifier's label is an integer class id, not {column.type}")
    return column.to_numpy(zero_copy_only=False).astype(int)


def train(
    table: pa.Table,
    features: Mapping[str, FeatureDefinition],
    parameters: Mapping[str, Any],
    seed: int,
    task: Task = Task.BINARY,
) -> Pipeline:
    """The task's seeded model, fitted on `table`."""
    model = _estimator(task, features, parameters, seed)
    model.fit(_frame(table, features), labels_of(table, task))
    return model


def predictions(
    model: Pipeline, table: pa.Table, features: Mapping[str, FeatureDefinition], task: Task
) -> Any:
    """What the task's metrics read: binary the positive class's probability, multiclass each
    class's (columns in `model.classes_` order), regression the value."""
    frame = _frame(table, features)
    match task:
        case Task.BINARY:
            return model.predict_proba(frame)[:, 1]
        case Task.MULTICLASS:
            return model.predict_proba(frame)
        case Task.REGRESSION | Task.RANKING:
            return model.predict(frame).astype(np.float64)
        case _ as unreachable:
            assert_never(unreachable)


def scores(model: Pipeline, table: pa.Table, features: Mapping[str, FeatureDefinition]) -> Any:
    """A binary classifier's positive-class probabilities (what serving scores with)."""
    return predictions(model, table, features, Task.BINARY)


_NARROW = {pa.int32(): "int32", pa.float32(): "float32"}  # declared types narrower than 64 bits


def _profile(table: pa.Table, name: str, feature: FeatureDefinition) -> ColumnProfile:
    column = table.column(name)
    arrow_type = column.type
    dtype = (
        _NARROW.get(arrow_type)
        or ("int64" if pa.types.is_integer(arrow_type) else None)
        or ("float64" if pa.types.is_floating(arrow_type) else None)
        or ("bool" if pa.types.is_boolean(arrow_type) else None)
        or ("timestamp" if pa.types.is_timestamp(arrow_type) else "string")
    )
    numeric = feature.dtype in NUMERIC_TYPES and column.null_count < len(column)
    values = column.drop_null().to_numpy() if numeric else None
    return ColumnProfile(
        dtype=dtype,
        rows=len(column),
        nulls=column.null_count,
        min=float(values.min()) if values is not None and values.size else None,
        max=float(values.max()) if values is not None and values.size else None,
    )


@dataclass
class Evaluation:
    metrics: dict[str, float]
    slice_metrics: dict[str, float]
    verdicts: list[GateVerdict] = field(default_factory=list)
    reference: str | None = None  # the model serving now that the gates compared with

    @property
    def passed(self) -> bool:
        return not any(v.verdict is Verdict.FAIL for v in self.verdicts)


@dataclass(frozen=True)
class Baseline:
    """The model serving the baseline now, loaded by the run (`model` None: it could not be)."""

    name: str
    model: Pipeline | None
    why_unloaded: str = ""


@dataclass(frozen=True)
class ServingInputs:
    """The online store's current values, by feature, for the training set's entities."""

    values: Mapping[str, list[Value]]
    entities: int
    why_empty: str = ""


@dataclass(frozen=True)
class _Holdout:
    """The holdout's labels and each model's predictions on it: what every comparison reads."""

    candidate: Scored
    reference: Reference  # the reference's name; its predictions are in `reference_scored`
    reference_scored: Scored | None = None


def _by_class(model: Pipeline, labels: Any, probabilities: Any) -> tuple[Any, Any]:
    """Labels as indices into the model's classes, with a zero-probability column for a class
    the holdout has and the model never saw: such a row counts as wrong, never skipped."""
    classes = [int(c) for c in model.classes_]
    unseen = sorted(set(labels.tolist()) - set(classes))
    index = {c: i for i, c in enumerate([*classes, *unseen])}
    padded = np.hstack([probabilities, np.zeros((len(labels), len(unseen)))])
    return np.array([index[label] for label in labels.tolist()], dtype=int), padded


def _scored(
    model: Pipeline,
    rows: pa.Table,
    features: Mapping[str, FeatureDefinition],
    *,
    task: Task,
    k: int,
    query: str | None,
) -> Scored:
    labels, values = labels_of(rows, task), predictions(model, rows, features, task)
    if task is Task.MULTICLASS:
        labels, values = _by_class(model, labels, values)
    # A ranker is judged per query: its metrics group the rows by their query.
    queries = rows.column(query).to_numpy(zero_copy_only=False) if query else None
    return Scored(labels, values, queries, k=k)


def _holdout(
    model: Pipeline,
    rows: pa.Table,
    features: Mapping[str, FeatureDefinition],
    baseline: Baseline | None,
    *,
    task: Task,
    k: int,
    query: str | None = None,
) -> _Holdout:
    candidate = _scored(model, rows, features, task=task, k=k, query=query)
    if baseline is None:
        return _Holdout(candidate, NO_REFERENCE)
    if baseline.model is None:
        return _Holdout(candidate, Reference(baseline.name, None, baseline.why_unloaded))
    reads = [str(n) for n in getattr(baseline.model, "feature_names_in_", [])]
    lacking = [n for n in reads if n not in features]
    if lacking:
        why = f"it reads {', '.join(lacking)}, which this candidate's holdout lacks"
        return _Holdout(candidate, Reference(baseline.name, None, why))
    reads_only = {n: features[n] for n in reads}
    reference = _scored(baseline.model, rows, reads_only, task=task, k=k, query=query)
    return _Holdout(candidate, Reference(baseline.name), reference)


def _reference_on(holdout: _Holdout, members: Any, metric: str, task: Task) -> Reference:
    """The reference's metric on the same rows (`members`) the candidate was measured on."""
    if holdout.reference_scored is None:
        return holdout.reference
    value = measure(task, holdout.reference_scored.rows(members)).get(metric)
    why = "" if value is not None else f"no {metric} on these rows"
    return Reference(holdout.reference.name, value, why)


_IMPORTANCE_SCORING: Mapping[Task, str] = {
    Task.BINARY: "neg_log_loss",
    Task.MULTICLASS: "neg_log_loss",
    Task.REGRESSION: "neg_root_mean_squared_error",
    Task.RANKING: "neg_root_mean_squared_error",
}


def importances(
    model: Pipeline,
    rows: pa.Table,
    features: Mapping[str, FeatureDefinition],
    seed: int,
    task: Task = Task.BINARY,
) -> dict[str, float]:
    """How much the model's loss (log loss; a regressor's RMSE) suffers when each feature is
    shuffled (seeded): the trees have no importances of their own, and this measures what the
    model actually uses."""
    measured = permutation_importance(
        model,
        _frame(rows, features),
        labels_of(rows, task),
        scoring=_IMPORTANCE_SCORING[task],
        n_repeats=3,
        random_state=seed,
    )
    return dict(zip(features, (float(m) for m in measured.importances_mean), strict=True))


def _drift(
    train_rows: pa.Table,
    features: Mapping[str, FeatureDefinition],
    ranked: Mapping[str, float],
    gates: Gates,
    serving: ServingInputs,
) -> list[GateVerdict]:
    """The most important features' training values against what the online store serves."""
    verdicts = []
    for name in most_important(ranked, gates.drift.top_features):
        served = serving.values.get(name, [])
        if not served:
            why = serving.why_empty or "no current value in the online store for its entities"
            verdicts.append(drift_not_judged(features[name], why))
            continue
        compared = f"training vs serving inputs of {len(served)}/{serving.entities} entities"
        verdicts.append(
            drift_gate(
                features[name],
                train_rows.column(name).to_pylist(),
                served,
                max_psi=gates.drift.max_psi,
                bins=gates.drift.bins,
                compared=compared,
            )
        )
    return verdicts


def _metric_key(request: TrainingRequest) -> str:
    return metric_key(request.gates.metric.name, request.gates.metric.k)


def evaluate(
    model: Pipeline,
    train_rows: pa.Table,
    valid_rows: pa.Table,
    features: Mapping[str, FeatureDefinition],
    request: TrainingRequest,
    *,
    baseline: Baseline | None = None,
    serving: ServingInputs | None = None,
) -> Evaluation:
    """The task's metrics overall and per slice, and every gate's verdict, against the model
    serving now (`baseline`, scored on the same holdout) or, for a first model, the floors."""
    gates, task = request.gates, request.task
    k = gates.metric.k or DEFAULT_CUT_OFF
    query = request.labels.query_column
    holdout = _holdout(model, valid_rows, features, baseline, task=task, k=k, query=query)
    metrics = measure(task, holdout.candidate)
    key = _metric_key(request)
    verdicts: list[GateVerdict] = []
    if gates.schema_.enabled:
        profiles = {n: _profile(train_rows, n, f) for n, f in features.items()}
        verdicts += schema_gate(list(features.values()), profiles)
    # Drift is judged where something serves: against what it is served now.
    if baseline is not None and serving is not None:
        ranked = importances(model, valid_rows, features, request.seed, task)
        verdicts += _drift(train_rows, features, ranked, gates, serving)
    everyone = np.ones(valid_rows.num_rows, dtype=bool)
    verdicts.append(
        metric_gate(
            key,
            metrics.get(key, math.nan),
            _reference_on(holdout, everyone, key, task),
            max_regression=epsilon(gates.metric),
            min_value=gates.metric.min_value,
            higher_is_better=higher_is_better(gates.metric.name),
        )
    )
    slice_verdicts, slice_metrics = _slices(valid_rows, holdout, request)
    verdicts += slice_verdicts
    if gates.golden:
        verdicts.append(_golden(model, gates, features, task))
    return Evaluation(metrics, slice_metrics, verdicts, holdout.reference.name)


def _slices(
    rows: pa.Table, holdout: _Holdout, request: TrainingRequest
) -> tuple[list[GateVerdict], dict[str, float]]:
    gates, task, key = request.gates, request.task, _metric_key(request)
    verdicts, measured = [], {}
    for spec in gates.slices:
        members = _slice_members(rows, spec.name, spec.where)
        support = int(members.sum())
        sliced = measure(task, holdout.candidate.rows(members)) if support else {}
        candidate = sliced.get(key)
        if candidate is not None:
            measured[spec.name] = candidate
        verdicts.append(
            slice_gate(
                spec.name,
                key,
                candidate,
                reference=_reference_on(holdout, members, key, task) if support else NO_REFERENCE,
                support=support,
                min_support=request.min_slice_support,
                max_regression=epsilon(spec),
                floor=gates.metric.min_value,
                higher_is_better=higher_is_better(gates.metric.name),
            )
        )
    return verdicts, measured


def _golden_predictions(
    model: Pipeline, cases: pa.Table, features: Mapping[str, FeatureDefinition], task: Task
) -> list[tuple[float, int | None]]:
    """Each case's score and predicted class: binary the positive class's probability,
    multiclass the predicted class's, a regressor its value (and no class)."""
    values = predictions(model, cases, features, task)
    match task:
        case Task.BINARY:
            return [(float(p), int(p >= 0.5)) for p in values]
        case Task.MULTICLASS:
            best = np.argmax(values, axis=1)
            return [
                (float(row[b]), int(model.classes_[b])) for row, b in zip(values, best, strict=True)
            ]
        case Task.REGRESSION | Task.RANKING:
            return [(float(v), None) for v in values]
        case _ as unreachable:
            assert_never(unreachable)


def _golden(
    model: Pipeline, gates: Gates, features: Mapping[str, FeatureDefinition], task: Task
) -> GateVerdict:
    cases = pa.Table.from_pylist([dict(c.features) for c in gates.golden])
    for name in features:
        if name not in cases.column_names:
            cases = cases.append_column(name, pa.nulls(cases.num_rows))
    predicted = _golden_predictions(model, cases, features, task)
    return golden_gate(
        [
            GoldenResult(
                case.name,
                score,
                label,
                case.expect_label,
                case.expect_score_min,
                case.expect_score_max,
            )
            for case, (score, label) in zip(gates.golden, predicted, strict=True)
        ]
    )


def _slice_members(rows: pa.Table, name: str, where: str) -> Any:
    """Rows in a slice: its filter parsed again (the spec was checked at the operator, but this
    run trusts no text), its columns checked against the evaluation rows', and the SQL rendered
    from the tree, evaluated by a DuckDB that can read nothing but the registered rows."""
    try:
        expression = slice_filters.parse(where)
        slice_filters.check_columns(expression, rows.column_names)
    except slice_filters.FilterError as error:
        raise TrainingDataError(f"slice {name}: where: {error}") from error
    with closing(locked_connection()) as connection:
        connection.register("validation", rows)
        try:
            query = f"SELECT coalesce({slice_filters.to_sql(expression)}, false) FROM validation"
            mask = connection.sql(query).to_arrow_table()
        except duckdb.Error as error:
            raise TrainingDataError(f"slice {name}: where: {error}") from error
    return mask.column(0).to_numpy(zero_copy_only=False).astype(bool)
