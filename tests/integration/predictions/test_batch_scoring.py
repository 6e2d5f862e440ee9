"""A batch prediction run against the real services: the demo's kind of model logged to MLflow
and loaded back from its storage URI, features from DuckDB (and Spark) point-in-time as of the
run, predictions in Redis read as features are, and the run's Parquet partition.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from dataclasses import replace
from pathlib import Path

import mlflow
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from paved.adapters.models.mlflow import MlflowModels, SklearnScorer
from paved.adapters.offline.duckdb import DuckDBEngine
from paved.adapters.offline.prediction_files import LINEAGE_FILE, ParquetPredictionFiles
from paved.adapters.online.redis import RedisOnlineStore
from paved.adapters.prediction_log.parquet import ParquetPredictionLog
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.api.batch_prediction import (
    BatchPredictionSpec,
    BatchPredictionStatus,
    PredictionRun,
    ShadowLimits,
)
from paved.api.feature_view import FeatureViewSpec
from paved.core.batch_prediction_steps import Score, Seen, Subject, decide
from paved.core.batch_predictions import (
    ModelInput,
    ScoringModel,
    ScoringPlan,
    partition,
    prediction_view_spec,
    published_partition,
    view_version,
)
from paved.core.feature_views import ViewDefinition, view_definition
from paved.core.prediction_shadow import breaches
from paved.core.references import acceptance
from paved.features import FeatureStore
from paved.ports.models import Scorer
from paved.ports.offline import FeatureRequest, JoinOptions, OfflineEngine
from paved.ports.online import ValueStatus
from paved.services.batch_scoring import ScoringReport, compare_runs, publish_run, score_run
from paved_local.platform import Endpoints
from paved_pipelines.registry import SKOPS_TRUSTED_TYPES
from paved_pipelines.steps import LABEL, train
from tests.support.churn_data import START, write_churn_data

NAMESPACE = "preds"
USERS = 300
FEATURES = ("clicks_7d", "sessions_7d", "tenure_days", "country")
DAYS = 12
# The churn data, moved so that its last day is yesterday: the online store expires values by
# the wall clock (twice the ttl after their event time).
SHIFT = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0) - (
    START + dt.timedelta(days=DAYS)
)
# Between the data's day 9 and day 10 rows: a point-in-time read takes day 9's.
AS_OF = START + SHIFT + dt.timedelta(days=9, hours=12)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_root = tmp_path_factory.mktemp("data")
    write_churn_data(data_root / NAMESPACE, users=USERS, days=DAYS)
    written = data_root / NAMESPACE / "activity" / "part-0.parquet"
    rows = pq.read_table(written)
    for column in ("event_timestamp", "created_at"):
        moved = pc.add(rows[column], pa.scalar(SHIFT, pa.duration("us")))
        rows = rows.set_column(rows.schema.get_field_index(column), column, moved)
    pq.write_table(rows, written)
    return data_root


@pytest.fixture(scope="module")
def activity(root: Path) -> ViewDefinition:
    spec = FeatureViewSpec.model_validate(
        {
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "source": {
                "path": "activity/*.parquet",
                "timestampField": "event_timestamp",
                "createdTimestampField": "created_at",
            },
            "features": [
                {"name": "clicks_7d", "dtype": "float64"},
                {"name": "sessions_7d", "dtype": "int64"},
                {"name": "tenure_days", "dtype": "int64"},
                {"name": "country", "dtype": "string"},
            ],
        }
    )
    return view_definition("activity", spec, str(root), namespace=NAMESPACE)


@pytest.fixture(scope="module")
def model(endpoints: Endpoints, activity: ViewDefinition) -> ScoringModel:
    """The demo's kind of model (the training pipeline's `train`), logged and registered."""
    rows = pq.read_table(activity.source.replace("*", "part-0"))
    labelled = rows.append_column(LABEL, pc.less(rows["clicks_7d"], 18).cast(pa.int64()))
    fitted = train(labelled, {f.name: f for f in activity.features}, {"n_estimators": 20}, 7)
    mlflow.set_tracking_uri(endpoints.mlflow)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(fitted, name="model", skops_trusted_types=SKOPS_TRUSTED_TYPES)
    registry = MlflowRegistry(endpoints.mlflow)
    name = f"{NAMESPACE}.churn-{uuid.uuid4().hex[:6]}"
    version = asyncio.run(registry.register(name, run.info.run_id, uuid.uuid4().hex, {}))
    inputs = (ModelInput(activity, FEATURES),)
    return ScoringModel(name, version.version, version.uri, "churn-v1", inputs)


def _plan(root: Path, activity: ViewDefinition, model: ScoringModel, **spec: object) -> ScoringPlan:
    """The plan the core makes for a BatchPrediction of `model` over the activity's users."""
    name = f"churn-{uuid.uuid4().hex[:6]}"
    parsed = BatchPredictionSpec.model_validate(
        {
            "model": {"name": "churn"},
            "entities": {"featureView": "activity"},
            "trigger": {"watermark": True},
            "output": {"ttl": "2d", "freshness": "1d"},
            "batchRows": 1000,
        }
        | spec
    )
    seen = Seen(acceptance([], NAMESPACE), activity, AS_OF, model)
    step = decide(
        Subject(NAMESPACE, name, str(root)), parsed, BatchPredictionStatus(), seen=seen, now=AS_OF
    )
    assert isinstance(step, Score)
    return replace(step.plan, batch_rows=100)  # several batches of the 300 users


def _run(
    plan: ScoringPlan, scorer: Scorer, online: RedisOnlineStore, engine: OfflineEngine
) -> ScoringReport:
    return score_run(
        plan, model=scorer, offline=engine, online=online, files=ParquetPredictionFiles()
    )


def _expected(plan: ScoringPlan, scorer: Scorer, engine: OfflineEngine) -> dict[int, float]:
    """What the model scores on each user's features as of the as-of, by hand."""
    users = pa.table(
        {
            "user_id": pa.array(range(USERS), pa.int64()),
            "at": pa.array([AS_OF] * USERS, pa.timestamp("us", tz="UTC")),
        }
    )
    (selection,) = plan.model.inputs
    features = engine.historical_features(
        users, [FeatureRequest(selection.view, FEATURES)], JoinOptions("at")
    )
    scores = scorer.score(features.select(list(FEATURES))).to_pylist()
    return dict(zip(range(USERS), scores, strict=True))


def _partition_rows(plan: ScoringPlan) -> pa.Table:
    return pq.read_table(plan.partition)


@pytest.fixture
def online(endpoints: Endpoints) -> RedisOnlineStore:
    return RedisOnlineStore.from_url(endpoints.redis)


def test_a_run_scores_every_user_as_of_its_time_and_serves_them_like_features(
    root: Path, activity: ViewDefinition, model: ScoringModel, online: RedisOnlineStore
) -> None:
    scorer = MlflowModels(mlflow.get_tracking_uri()).load(model.uri)
    assert scorer.features == FEATURES
    plan = _plan(root, activity, model)
    report = _run(plan, scorer, online, DuckDBEngine())
    assert report.rows == USERS
    assert report.written == USERS

    expected = _expected(plan, scorer, DuckDBEngine())
    store = FeatureStore({plan.output.name: plan.output}, DuckDBEngine(), online)
    refs = [f"{plan.output.name}:score", f"{plan.output.name}:model_version"]
    read = store.get_online_features([{"user_id": u} for u in range(USERS)], refs, AS_OF)
    scores = [row[0] for row in read.values]
    assert scores == pytest.approx([expected[u] for u in range(USERS)])
    assert {row[1] for row in read.values} == {model.label}
    assert read.event_timestamps[0] == [AS_OF]

    written = _partition_rows(plan)
    assert written.num_rows == USERS
    assert sorted(written["user_id"].to_pylist()) == list(range(USERS))
    lineage = json.loads((Path(plan.partition) / LINEAGE_FILE).read_text())
    assert lineage["modelVersion"] == model.version
    assert json.loads(lineage["featureViews"]) == {"activity": activity.version}


def test_predictions_age_like_features_stale_past_the_slo_and_expired_past_the_ttl(
    root: Path, activity: ViewDefinition, model: ScoringModel, online: RedisOnlineStore
) -> None:
    scorer = MlflowModels(mlflow.get_tracking_uri()).load(model.uri)
    plan = _plan(root, activity, model)
    _run(plan, scorer, online, DuckDBEngine())
    store = FeatureStore({plan.output.name: plan.output}, DuckDBEngine(), online)
    ref = [f"{plan.output.name}:score"]

    def status_at(later: dt.timedelta) -> ValueStatus:
        return store.get_online_features([{"user_id": 1}], ref, AS_OF + later).statuses[0][0]

    assert status_at(dt.timedelta(hours=23)) is ValueStatus.PRESENT
    assert status_at(dt.timedelta(hours=25)) is ValueStatus.STALE  # freshness 1d
    assert status_at(dt.timedelta(days=2, seconds=1)) is ValueStatus.EXPIRED  # ttl 2d


class _CrashOnThirdBatch:
    """The real model, but the run dies part-way, as an operator killed mid-run would."""

    def __init__(self, scorer: Scorer) -> None:
        self._scorer, self._batches = scorer, 0

    @property
    def features(self) -> tuple[str, ...]:
        return self._scorer.features

    def score(self, rows: pa.Table) -> pa.Array:
        self._batches += 1
        if self._batches == 3:
            raise RuntimeError("killed")
        return self._scorer.score(rows)


def test_a_run_that_crashes_mid_way_leaves_no_partition_and_its_redo_no_duplicates(
    root: Path, activity: ViewDefinition, model: ScoringModel, online: RedisOnlineStore
) -> None:
    scorer = MlflowModels(mlflow.get_tracking_uri()).load(model.uri)
    plan = _plan(root, activity, model)
    with pytest.raises(RuntimeError, match="killed"):
        _run(plan, _CrashOnThirdBatch(scorer), online, DuckDBEngine())
    runs = Path(plan.partition).parent
    assert list(runs.iterdir()) == []  # neither the partition nor the attempt's scratch

    redone = _run(plan, scorer, online, DuckDBEngine())
    assert redone.rows == USERS
    assert redone.written == USERS - 200  # the two batches written before the crash stand
    again = _run(plan, scorer, online, DuckDBEngine())
    assert again.written == 0  # the same (model version, as-of): nothing changes
    written = _partition_rows(plan)
    assert written.num_rows == USERS
    assert len(set(written["user_id"].to_pylist())) == USERS
    assert [p.name for p in runs.iterdir()] == [Path(plan.partition).name]


def test_a_runs_sample_is_logged_with_its_features_once_however_often_it_is_redone(
    root: Path, activity: ViewDefinition, model: ScoringModel, online: RedisOnlineStore
) -> None:
    scorer = MlflowModels(mlflow.get_tracking_uri()).load(model.uri)
    plan = _plan(root, activity, model, predictionLog={"rate": 0.5})
    log = ParquetPredictionLog(str(root))
    runs = [
        score_run(
            plan,
            model=scorer,
            offline=DuckDBEngine(),
            online=online,
            files=ParquetPredictionFiles(),
            log=log,
        )
        for _ in range(2)  # a run redone (after a crash between scoring and its record)
    ]
    assert runs[0].rows == runs[1].rows == USERS

    assert plan.log is not None
    logged = log.window(
        NAMESPACE,
        plan.log.model,
        model.version,
        since=AS_OF - dt.timedelta(seconds=1),
        until=AS_OF + dt.timedelta(seconds=1),
    )
    assert 100 < logged.samples < 200  # half of 300 users, by their ids: each once
    assert len(set(logged.entities)) == logged.samples
    assert set(logged.served_at) == {AS_OF}  # served as of the run: its features' time
    expected = _expected(plan, scorer, DuckDBEngine())
    users = [json.loads(entity)["user_id"] for entity in logged.entities]
    assert logged.scores == pytest.approx([expected[u] for u in users])
    assert set(logged.inputs) == set(FEATURES)  # what the model read, for drift and skew


def test_an_entity_source_limits_the_run_to_its_entities(
    root: Path, activity: ViewDefinition, model: ScoringModel, online: RedisOnlineStore
) -> None:
    listed = root / NAMESPACE / "vip-users.parquet"
    pq.write_table(pa.table({"user_id": pa.array([5, 7, 7, 11], pa.int64())}), listed)
    entities = {"featureView": "activity", "source": {"path": "vip-users.parquet"}}
    plan = _plan(root, activity, model, entities=entities)
    scorer = MlflowModels(mlflow.get_tracking_uri()).load(model.uri)
    report = _run(plan, scorer, online, DuckDBEngine())
    assert report.rows == 3
    assert sorted(_partition_rows(plan)["user_id"].to_pylist()) == [5, 7, 11]


def test_spark_reads_the_features_of_a_run_as_duckdb_does(
    root: Path, activity: ViewDefinition, model: ScoringModel, online: RedisOnlineStore
) -> None:
    """The big-data engine: the same run, its features read point-in-time by Spark."""
    from pyspark.sql import SparkSession

    from paved.adapters.offline.spark import SparkEngine

    session = (
        SparkSession.builder.master("local[2]")
        .appName("paved-batch-prediction")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    scorer = MlflowModels(mlflow.get_tracking_uri()).load(model.uri)
    plan = _plan(root, activity, model)
    try:
        report = _run(plan, scorer, online, SparkEngine(session))
    finally:
        session.stop()
    assert report.rows == USERS
    expected = _expected(plan, scorer, DuckDBEngine())
    written = _partition_rows(plan)
    by_user = dict(zip(written["user_id"].to_pylist(), written["score"].to_pylist(), strict=True))
    assert by_user == pytest.approx(expected)


def test_a_new_versions_predictions_are_written_beside_the_served_ones_and_compared(
    root: Path, activity: ViewDefinition, model: ScoringModel, online: RedisOnlineStore
) -> None:
    """The shadow of a model change: its own view version online and its own partition, the
    served values untouched; then the two runs compared entity by entity from their Parquet."""
    served_scorer = MlflowModels(mlflow.get_tracking_uri()).load(model.uri)
    served = _plan(root, activity, model)
    _run(served, served_scorer, online, DuckDBEngine())
    rows = pq.read_table(activity.source.replace("*", "part-0"))
    # Another model: it learns the opposite, so its decisions flip and its ranks disagree.
    flipped = rows.append_column(LABEL, pc.greater_equal(rows["clicks_7d"], 18).cast(pa.int64()))
    other = train(flipped, {f.name: f for f in activity.features}, {"n_estimators": 20}, 7)
    new_model = replace(model, version=str(int(model.version) + 1), model_version="churn-v2")
    shadow_version = view_version(served.output.name, activity, new_model)
    shadow = replace(
        served,
        model=new_model,
        output=replace(served.output, version=shadow_version),
        partition=served.partition.replace(f"-v{model.version}", f"-v{new_model.version}"),
    )
    _run(shadow, SklearnScorer(other), online, DuckDBEngine())

    views = {"served": served.output, "shadow": shadow.output}
    store = FeatureStore(views, DuckDBEngine(), online)
    refs = ["served:model_version", "shadow:model_version"]
    # Both views name their column model_version: read them apart by their views' names.
    read = store.get_online_features([{"user_id": 1}], refs, AS_OF, full_feature_names=True)
    assert read.values[0] == [model.label, new_model.label]

    comparison = compare_runs(
        ParquetPredictionFiles(),
        served=served.partition,
        shadow=shadow.partition,
        keys=("user_id",),
        root=str(root / NAMESPACE),
        threshold=0.5,
    )
    assert comparison.compared == USERS
    assert comparison.rank_agreement is not None
    assert comparison.rank_agreement < 0
    assert comparison.decision_flips is not None
    assert comparison.decision_flips > 0.5
    assert breaches(comparison, ShadowLimits())


def test_a_hybrid_reads_the_predictions_that_were_served_at_each_labels_time(
    root: Path, activity: ViewDefinition, model: ScoringModel, online: RedisOnlineStore
) -> None:
    """The prediction view offline is the history of what readers were served: a shadow's
    scores enter it only once accepted, from then on, and a rollback's restored scores again
    from the rollback. A model trained on the predictions (a hybrid) reads, as of each label,
    the score served then, through the same point-in-time join as any feature."""
    files = ParquetPredictionFiles()
    served = _plan(root, activity, model)
    _run(served, MlflowModels(mlflow.get_tracking_uri()).load(model.uri), online, DuckDBEngine())
    scored_at = dt.datetime.now(dt.UTC)
    new_model = replace(model, version=str(int(model.version) + 1), model_version="churn-v2")
    name = served.output.name
    shadow = replace(
        served,
        model=new_model,
        output=replace(served.output, version=view_version(name, activity, new_model)),
        partition=partition(name, AS_OF, new_model, root=str(root / NAMESPACE), shadow=True),
    )
    rows = pq.read_table(activity.source.replace("*", "part-0"))
    opposite = rows.append_column(LABEL, pc.greater_equal(rows["clicks_7d"], 18).cast(pa.int64()))
    scorer = SklearnScorer(train(opposite, {f.name: f for f in activity.features}, {}, 7))
    _run(shadow, scorer, online, DuckDBEngine())
    spec = BatchPredictionSpec.model_validate(
        {
            "model": {"name": "churn"},
            "entities": {"featureView": "activity"},
            "trigger": {"watermark": True},
        }
    )
    history = view_definition(
        name,
        prediction_view_spec(name, spec, join_keys=activity.join_keys),
        str(root),
        namespace=NAMESPACE,
    )

    def served_at(at: dt.datetime) -> set[str]:
        """The model versions whose scores the users' labels at `at` read."""
        labels = pa.table(
            {
                "user_id": pa.array(range(USERS), pa.int64()),
                "at": pa.array([at] * USERS, pa.timestamp("us", tz="UTC")),
            }
        )
        request = FeatureRequest(history, ("score", "model_version"))
        read = DuckDBEngine().historical_features(labels, [request], JoinOptions("at"))
        return set(read["model_version"].to_pylist())

    assert served_at(AS_OF) == {None}  # nothing was served before the run
    assert served_at(scored_at) == {model.label}  # the shadow is not in the history
    accepted_at = scored_at + dt.timedelta(hours=1)
    history_root = str(root / NAMESPACE)

    def publish(source: str, target: str, at: dt.datetime) -> None:
        publish_run(
            files, source=source, target=target, root=history_root, lineage={}, served_at=at
        )

    target = published_partition(name, _record(shadow), root=history_root)
    publish(shadow.partition, target, accepted_at)
    assert served_at(accepted_at - dt.timedelta(seconds=1)) == {model.label}
    assert served_at(accepted_at) == {new_model.label}
    rolled_back_at = accepted_at + dt.timedelta(hours=1)
    restored = published_partition(name, _record(served), root=history_root, restored="r-1")
    publish(served.partition, restored, rolled_back_at)
    assert served_at(rolled_back_at - dt.timedelta(seconds=1)) == {new_model.label}
    assert served_at(rolled_back_at) == {model.label}
    assert pq.read_table(target).num_rows == USERS  # one row a user: no duplicates


def _record(plan: ScoringPlan) -> PredictionRun:
    """What the status records of `plan`'s run."""
    return PredictionRun(
        as_of=plan.as_of,
        model=plan.model.registered,
        model_version=plan.model.version,
        view_version=plan.output.version,
        rows=USERS,
        seconds=1.0,
        finished_at=plan.as_of,
        path=plan.partition,
    )
