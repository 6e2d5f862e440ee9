"""One behavioural suite for every OfflineEngine: the same Parquet files must give the same answers.

The examples pin the contract's edges (Feast's table, bad sources, changed rows, appends); the
properties check each engine against the reference join on small random data full of ties, gaps
and nulls. No platform services: DuckDB is embedded and Spark runs as a local session.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import glob
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyspark.sql import SparkSession

from paved.adapters.offline.duckdb import DuckDBEngine
from paved.adapters.offline.spark import SparkEngine
from paved.api.feature_view import DataType
from paved.core.feature_views import FeatureDefinition, ViewDefinition
from paved.core.point_in_time import ViewRows, latest_changed_rows, point_in_time_join
from paved.errors import SourceDataError
from paved.ports.offline import FeatureRequest, JoinOptions, OfflineEngine

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
UTC = pa.timestamp("us", tz="UTC")
HALF_HOUR = dt.timedelta(minutes=30)
FEATURES = (
    FeatureDefinition("trips", DataType.INT64),
    FeatureDefinition("rating", DataType.FLOAT64),
    FeatureDefinition("city", DataType.STRING),
    FeatureDefinition("active", DataType.BOOL),
)
SOURCE_SCHEMA = pa.schema(
    [
        ("driver_id", pa.int64()),
        ("event_timestamp", UTC),
        ("created", UTC),
        ("trips", pa.int64()),
        ("rating", pa.float64()),
        ("city", pa.string()),
        ("active", pa.bool_()),
    ]
)
ROUTE_SCHEMA = pa.schema(
    [
        ("driver_id", pa.int64()),
        ("route", pa.string()),
        ("event_timestamp", UTC),
        ("score", pa.float64()),
    ]
)


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = (
        SparkSession.builder.master("local[2]")
        .appName("paved-offline-contract")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    yield session
    session.stop()


@pytest.fixture(scope="module", params=["duckdb", "spark"])
def engine(request: pytest.FixtureRequest) -> OfflineEngine:
    if request.param == "spark":
        return SparkEngine(request.getfixturevalue("spark"))
    return DuckDBEngine()


def at(hour: float) -> dt.datetime:
    return T0 + dt.timedelta(hours=hour)


def driver_view(
    directory: Path,
    ttl: dt.timedelta | None = dt.timedelta(hours=2),
    created: bool = True,
    name: str = "drivers",
    pattern: str = "*.parquet",
) -> ViewDefinition:
    return ViewDefinition(
        namespace="test",
        name=name,
        version="0123456789ab",
        join_keys=("driver_id",),
        source=str(directory / pattern),
        data_root=str(directory),
        timestamp_field="event_timestamp",
        created_timestamp_field="created" if created else None,
        ttl=ttl,
        features=FEATURES,
    )


def route_view(directory: Path) -> ViewDefinition:
    return ViewDefinition(
        namespace="test",
        name="routes",
        version="0123456789ab",
        join_keys=("driver_id", "route"),
        source=str(directory / "*.parquet"),
        data_root=str(directory),
        timestamp_field="event_timestamp",
        created_timestamp_field=None,
        ttl=None,
        features=(FeatureDefinition("score", DataType.FLOAT64),),
    )


def source_row(
    driver: int, event: float, trips: int | None, created: float | None = None, **values: object
) -> dict[str, object]:
    """A driver row; written when it happened unless `created` (an hour) says later."""
    return {
        "driver_id": driver,
        "event_timestamp": at(event),
        "created": at(event if created is None else created),
        "trips": trips,
        **values,
    }


def write(
    directory: Path,
    name: str,
    rows: list[dict[str, object]],
    schema: pa.Schema = SOURCE_SCHEMA,
    statistics: bool = True,
) -> Path:
    """Without `statistics`, the footers bound no column, as some writers leave them."""
    directory.mkdir(parents=True, exist_ok=True)
    pq.write_table(
        pa.Table.from_pylist(rows, schema), directory / name, write_statistics=statistics
    )
    return directory / name


def entities(*rows: tuple[int | None, float]) -> pa.Table:
    return pa.table(
        {
            "driver_id": pa.array([d for d, _ in rows], pa.int64()),
            "event_timestamp": pa.array([at(h) for _, h in rows], UTC),
        }
    )


def trips(
    engine: OfflineEngine, view: ViewDefinition, entity_rows: pa.Table, **options: bool
) -> list[object]:
    joined = engine.historical_features(
        entity_rows, [FeatureRequest(view, ("trips",))], JoinOptions(**options)
    )
    return joined["trips"].to_pylist()


# Feast's table (anchors §1.3): one view, ttl 2h, created timestamps.
FEAST_ROWS = [
    source_row(1, 9, 90),
    source_row(1, 10, 100),
    source_row(1, 11, 110),
    source_row(2, 8, 200, created=8 + 5 / 60),
    source_row(2, 8, 201, created=8 + 10 / 60),
    source_row(3, 9, 300),
    source_row(5, 11, 500),
    source_row(6, 9, 600, created=11),
    source_row(7, 8, 700),
]
FEAST_ENTITIES = [
    (1, 10),
    (1, 9.5),
    (2, 9),
    (3, 12),
    (4, 10),
    (5, 10),
    (6, 10),
    (1, 10),
    (7, 10),
    (None, 10),
]


@pytest.mark.parametrize(
    ("created_cutoff", "expected"),
    [
        pytest.param(True, [100, 90, 201, None, None, None, None, 100, 700, None], id="cutoff"),
        pytest.param(False, [100, 90, 201, None, None, None, 600, 100, 700, None], id="no-cutoff"),
    ],
)
def test_feasts_point_in_time_table(
    engine: OfflineEngine, tmp_path: Path, created_cutoff: bool, expected: list[object]
) -> None:
    # exact-time match, between rows, tie on event time, outside ttl, no rows, only future rows,
    # backfilled row, duplicate entity row, exactly ttl old, null key: in this order.
    write(tmp_path, "part-0.parquet", FEAST_ROWS)
    joined = trips(
        engine, driver_view(tmp_path), entities(*FEAST_ENTITIES), created_cutoff=created_cutoff
    )
    assert joined == expected


@pytest.mark.parametrize("late_row", [False, True], ids=["latest", "behind-a-late-row"])
def test_full_ties_go_to_the_later_source_row(
    engine: OfflineEngine, tmp_path: Path, late_row: bool
) -> None:
    # Behind a row written after the entity time, the cutoff makes the engine look further back.
    late = [source_row(1, 9.5, 0, created=12), source_row(2, 9.5, 0, created=12)]
    first = [source_row(1, 9, 1), source_row(2, 9, 4), source_row(2, 9, 5)]
    write(tmp_path, "part-0.parquet", [*first, *(late if late_row else [])])
    write(tmp_path, "part-1.parquet", [source_row(1, 9, 3)])
    view = driver_view(tmp_path)
    assert trips(engine, view, entities((1, 10), (2, 10))) == [3, 5]
    expected_changes = [0, 0] if late_row else [3, 5]
    assert [r["trips"] for r in changed(engine, view, None, None)] == expected_changes


@pytest.mark.parametrize("spread", [1, 2**31, 2**62], ids=["near", "past-int32", "far"])
def test_keys_far_apart_and_outside_the_sources_range_join_like_the_reference(
    engine: OfflineEngine, tmp_path: Path, spread: int
) -> None:
    # Widely spread keys change how an engine may lay them out, never which row matches.
    rows = [source_row(d * spread, 9 + d, d) for d in (-1, 0, 1)]
    rows.append(source_row(spread, 9 + 1, 11))  # a full tie: the later row wins
    write(tmp_path, "part-0.parquet", rows)
    view = driver_view(tmp_path, ttl=None)
    keys = [-spread, 0, spread, spread + 1, -(2**63), 2**63 - 1]
    entity_rows = entities(*((k, 12) for k in keys))
    expected = point_in_time_join(
        entity_rows.to_pylist(),
        [ViewRows(view, ("trips",), rows)],
        entity_timestamp_column="event_timestamp",
        created_cutoff=True,
        full_feature_names=False,
    )
    assert trips(engine, view, entity_rows) == [row["trips"] for row in expected]
    assert trips(engine, view, entity_rows) == [-1, 0, 11, None, None, None]


def test_calls_from_several_threads_at_once_agree(engine: OfflineEngine, tmp_path: Path) -> None:
    write(tmp_path, "part-0.parquet", FEAST_ROWS)
    view, entity_rows = driver_view(tmp_path), entities(*FEAST_ENTITIES)
    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(lambda _: trips(engine, view, entity_rows), range(4)))
    assert answers == [trips(engine, view, entity_rows)] * 4


def test_entity_columns_are_kept_and_features_typed_as_declared(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    write(tmp_path, "part-0.parquet", [source_row(1, 9, 90, rating=4.5, city=None, active=True)])
    entity_rows = entities((1, 10), (2, 10)).append_column("label", pa.array(["yes", "no"]))
    request = FeatureRequest(driver_view(tmp_path), ("city", "rating", "active", "trips"))
    joined = engine.historical_features(entity_rows, [request], JoinOptions())
    assert joined.schema == pa.schema(
        [
            ("driver_id", pa.int64()),
            ("event_timestamp", UTC),
            ("label", pa.string()),
            ("city", pa.string()),
            ("rating", pa.float64()),
            ("active", pa.bool_()),
            ("trips", pa.int64()),
        ]
    )
    assert joined.to_pylist()[0] == {
        "driver_id": 1,
        "event_timestamp": at(10),
        "label": "yes",
        "city": None,  # null in the chosen row: stays null
        "rating": 4.5,
        "active": True,
        "trips": 90,
    }
    assert joined.slice(1).to_pylist()[0]["trips"] is None


def test_each_view_joins_on_its_own_keys(engine: OfflineEngine, tmp_path: Path) -> None:
    write(tmp_path / "drivers", "part-0.parquet", [source_row(1, 9, 90)])
    routes = [
        {"driver_id": 1, "route": "a", "event_timestamp": at(9), "score": 0.5},
        {"driver_id": 1, "route": "b", "event_timestamp": at(9), "score": 0.7},
    ]
    write(tmp_path / "routes", "part-0.parquet", routes, ROUTE_SCHEMA)
    entity_rows = entities((1, 10), (1, 10)).append_column("route", pa.array(["b", None]))
    requests = [
        FeatureRequest(driver_view(tmp_path / "drivers"), ("trips",)),
        FeatureRequest(route_view(tmp_path / "routes"), ("score",)),
    ]
    joined = engine.historical_features(entity_rows, requests, JoinOptions(full_feature_names=True))
    assert joined.column_names[-2:] == ["drivers__trips", "routes__score"]
    assert joined["routes__score"].to_pylist() == [0.7, None]
    assert joined["drivers__trips"].to_pylist() == [90, 90]


def test_a_shared_feature_name_needs_full_feature_names(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    write(tmp_path, "part-0.parquet", [source_row(1, 9, 90)])
    requests = [
        FeatureRequest(driver_view(tmp_path, name="drivers"), ("trips",)),
        FeatureRequest(driver_view(tmp_path, name="drivers_again"), ("trips",)),
    ]
    with pytest.raises(ValueError, match=r"trips.*full_feature_names"):
        engine.historical_features(entities((1, 10)), requests, JoinOptions())


def test_entity_rows_must_hold_every_join_key(engine: OfflineEngine, tmp_path: Path) -> None:
    write(
        tmp_path,
        "part-0.parquet",
        [{"driver_id": 1, "route": "a", "event_timestamp": at(9), "score": 0.5}],
        ROUTE_SCHEMA,
    )
    request = FeatureRequest(route_view(tmp_path), ("score",))
    with pytest.raises(ValueError, match="lack the columns route"):
        engine.historical_features(entities((1, 10)), [request], JoinOptions())


def test_entity_keys_must_be_typed_like_the_sources(engine: OfflineEngine, tmp_path: Path) -> None:
    write(tmp_path, "part-0.parquet", [source_row(1, 9, 90)])
    as_text = entities((1, 10)).set_column(0, "driver_id", pa.array(["1"]))
    with pytest.raises(ValueError, match="entity column 'driver_id' is string"):
        trips(engine, driver_view(tmp_path), as_text)


def test_entity_timestamps_must_be_utc_aware(engine: OfflineEngine, tmp_path: Path) -> None:
    write(tmp_path, "part-0.parquet", [source_row(1, 9, 90)])
    naive = entities((1, 10)).set_column(
        1, "event_timestamp", pa.array([at(10).replace(tzinfo=None)], pa.timestamp("us"))
    )
    with pytest.raises(SourceDataError, match=r"entity rows: column 'event_timestamp'.*UTC-aware"):
        trips(engine, driver_view(tmp_path), naive)


def _naive_timestamps(table: pa.Table) -> pa.Table:
    return table.set_column(1, "event_timestamp", table["event_timestamp"].cast(pa.timestamp("us")))


def _missing_rating(table: pa.Table) -> pa.Table:
    return table.drop_columns(["rating"])


def _rating_as_string(table: pa.Table) -> pa.Table:
    return table.set_column(4, "rating", table["rating"].cast(pa.string()))


def _null_key(table: pa.Table) -> pa.Table:
    return table.set_column(0, "driver_id", pa.array([None] * table.num_rows, pa.int64()))


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        pytest.param(
            _naive_timestamps,
            r"bad\.parquet: column 'event_timestamp' is timestamp\[us\]; it must be a UTC-aware",
            id="naive-timestamp",
        ),
        pytest.param(
            _missing_rating,
            r"bad\.parquet: the declared column 'rating' is missing",
            id="missing-column",
        ),
        pytest.param(
            _rating_as_string,
            r"bad\.parquet: column 'rating' is string, declared float64",
            id="wrong-type",
        ),
        pytest.param(_null_key, r"bad\.parquet: column 'driver_id' has 1 nulls", id="null-key"),
    ],
)
def test_a_bad_source_file_is_named_with_its_column(
    engine: OfflineEngine, tmp_path: Path, spoil: Callable[[pa.Table], pa.Table], message: str
) -> None:
    write(tmp_path, "good.parquet", [source_row(1, 9, 90)])
    pq.write_table(
        spoil(pa.Table.from_pylist([source_row(1, 9, 90)], SOURCE_SCHEMA)), tmp_path / "bad.parquet"
    )
    with pytest.raises(SourceDataError, match=message):
        trips(engine, driver_view(tmp_path), entities((1, 10)))
    with pytest.raises(SourceDataError, match=message):
        list(engine.changed_rows(driver_view(tmp_path), None, None, 10))


def test_a_source_that_matches_no_file_names_the_path(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    view = driver_view(tmp_path / "nowhere")
    with pytest.raises(
        SourceDataError, match=f"no Parquet file matches {tmp_path}/nowhere/\\*.parquet"
    ):
        trips(engine, view, entities((1, 10)))


def test_paths_with_glob_characters_spaces_and_plus_signs_mean_themselves(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    odd = tmp_path / "odd [x] +{a,b} ?"
    write(odd, "part-0.parquet", [source_row(1, 9, 90)])
    write(tmp_path / "odd x +{a,b} ?", "part-0.parquet", [source_row(1, 9, 666)])  # a decoy
    view = driver_view(tmp_path)
    view = dataclasses.replace(view, source=f"{glob.escape(str(odd))}/*.parquet")
    assert trips(engine, view, entities((1, 10))) == [90]
    assert [r["trips"] for r in changed(engine, view, None, None)] == [90]


def test_narrower_numbers_are_widened_to_the_declared_types(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    table = pa.Table.from_pylist([source_row(1, 9, 90, rating=0.5)], SOURCE_SCHEMA)
    table = table.set_column(3, "trips", table["trips"].cast(pa.int32()))
    table = table.set_column(4, "rating", table["rating"].cast(pa.float32()))
    tmp_path.mkdir(exist_ok=True)
    pq.write_table(table, tmp_path / "narrow.parquet")
    write(tmp_path, "wide.parquet", [source_row(2, 9, 20, rating=0.25)])
    request = FeatureRequest(driver_view(tmp_path), ("trips", "rating"))
    joined = engine.historical_features(entities((1, 10), (2, 10)), [request], JoinOptions())
    assert joined.select(["trips", "rating"]).to_pylist() == [
        {"trips": 90, "rating": 0.5},
        {"trips": 20, "rating": 0.25},
    ]
    assert joined.schema.field("trips").type == pa.int64()


EXACT = (
    FeatureDefinition("rating", DataType.FLOAT32),
    FeatureDefinition("trips", DataType.INT32),
    FeatureDefinition("signed_up", DataType.TIMESTAMP),
)
EXACT_SCHEMA = pa.schema(
    [
        ("driver_id", pa.int64()),
        ("event_timestamp", UTC),
        ("created", UTC),
        ("rating", pa.float32()),
        ("trips", pa.int16()),  # a narrower integer fits an int32 feature
        ("signed_up", pa.timestamp("ms", tz="UTC")),
    ]
)


def test_float32_int32_and_timestamp_features_come_back_as_declared(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    view = dataclasses.replace(driver_view(tmp_path), features=EXACT)
    signed_up = T0 - dt.timedelta(days=30, milliseconds=250)
    rows = [
        source_row(1, 9, 7, rating=0.1, signed_up=signed_up),
        source_row(2, 9, None, rating=None, signed_up=None),
    ]
    write(tmp_path, "exact.parquet", rows, EXACT_SCHEMA)
    request = FeatureRequest(view, ("rating", "trips", "signed_up"))
    joined = engine.historical_features(entities((1, 10), (2, 10)), [request], JoinOptions())

    assert joined.schema.field("rating").type == pa.float32()
    assert joined.schema.field("trips").type == pa.int32()
    assert joined.schema.field("signed_up").type == UTC
    # 0.1 as float32, not widened: the very value the source holds.
    assert joined["rating"].to_pylist() == [pa.scalar(0.1, pa.float32()).as_py(), None]
    assert joined["trips"].to_pylist() == [7, None]
    assert joined["signed_up"].to_pylist() == [signed_up, None]
    changed_rows = pa.Table.from_batches(list(engine.changed_rows(view, None, None, 10)))
    assert (
        changed_rows.sort_by("driver_id")
        .select(["rating", "trips", "signed_up"])
        .equals(joined.select(["rating", "trips", "signed_up"]))
    )


def test_a_wider_source_column_than_declared_is_refused_by_name(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    """float64 values would be rounded into a float32 feature: the source must say float32."""
    view = dataclasses.replace(driver_view(tmp_path), features=EXACT[:1])
    schema = pa.schema([*list(EXACT_SCHEMA)[:3], ("rating", pa.float64())])
    write(tmp_path, "wide.parquet", [source_row(1, 9, None, rating=0.1)], schema)
    with pytest.raises(SourceDataError, match=r"column 'rating' is double, declared float32"):
        engine.historical_features(
            entities((1, 10)), [FeatureRequest(view, ("rating",))], JoinOptions()
        )


def test_nanosecond_timestamps_are_read_to_the_microsecond_or_refused_by_name(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    """The one engine difference: Spark cannot read nanosecond Parquet timestamps."""
    table = pa.Table.from_pylist([source_row(1, 9, 90)], SOURCE_SCHEMA)
    table = table.set_column(
        1, "event_timestamp", table["event_timestamp"].cast(pa.timestamp("ns", tz="UTC"))
    )
    pq.write_table(table, tmp_path / "nanos.parquet")
    if isinstance(engine, SparkEngine):
        with pytest.raises(
            SourceDataError, match=r"nanos\.parquet: column 'event_timestamp' holds nanoseconds"
        ):
            trips(engine, driver_view(tmp_path), entities((1, 10)))
    else:
        assert trips(engine, driver_view(tmp_path), entities((1, 10))) == [90]


def changed(
    engine: OfflineEngine,
    view: ViewDefinition,
    event_after: dt.datetime | None,
    created_after: dt.datetime | None,
    batch_rows: int = 100,
) -> list[dict[str, object]]:
    batches = list(engine.changed_rows(view, event_after, created_after, batch_rows))
    assert all(b.num_rows <= batch_rows for b in batches)
    return sorted(
        (row for b in batches for row in b.to_pylist()), key=lambda r: str(r["driver_id"])
    )


def test_changed_rows_are_the_latest_per_entity_with_every_declared_column(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    write(
        tmp_path,
        "part-0.parquet",
        [*FEAST_ROWS, source_row(1, 12, 120, rating=1.5, city="Oslo", active=False)],
    )
    rows = changed(engine, driver_view(tmp_path), at(10.5), at(10.5))
    assert rows == [
        {
            "driver_id": 1,
            "event_timestamp": at(12),
            "created": at(12),
            "trips": 120,
            "rating": 1.5,
            "city": "Oslo",
            "active": False,
        },
        {
            "driver_id": 5,
            "event_timestamp": at(11),
            "created": at(11),
            "trips": 500,
            "rating": None,
            "city": None,
            "active": None,
        },
        {
            "driver_id": 6,
            "event_timestamp": at(9),
            "created": at(11),
            "trips": 600,
            "rating": None,
            "city": None,
            "active": None,
        },
    ]


def test_a_late_row_with_a_new_created_time_is_changed(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    write(tmp_path, "part-0.parquet", [source_row(1, 9, 90)])
    view = driver_view(tmp_path)
    assert changed(engine, view, at(10), at(10)) == []
    write(tmp_path, "part-1.parquet", [source_row(1, 8, 80, created=11)])
    assert [r["trips"] for r in changed(engine, view, at(10), at(10))] == [80]
    assert [
        r["trips"] for r in changed(engine, driver_view(tmp_path, created=False), at(10), at(10))
    ] == []


def test_changed_rows_come_in_batches_of_at_most_batch_rows(
    engine: OfflineEngine, tmp_path: Path
) -> None:
    write(tmp_path, "part-0.parquet", [source_row(d, 9, d) for d in range(10)])
    batches = list(engine.changed_rows(driver_view(tmp_path), None, None, 3))
    assert [b.num_rows <= 3 for b in batches] == [True] * len(batches)
    assert sorted(v for b in batches for v in b.column("trips").to_pylist()) == list(range(10))


def test_spark_streams_changed_rows_a_partition_at_a_time(
    spark: SparkSession, tmp_path: Path
) -> None:
    """The first batch comes before Spark has computed every partition of the result."""
    write(tmp_path, "part-0.parquet", [source_row(d, 9, d) for d in range(40)])
    group = "changed-rows-stream"
    spark.sparkContext.setJobGroup(group, "changed rows, a partition at a time")
    previous = {k: spark.conf.get(k) for k in ("spark.sql.adaptive.enabled", PARTITIONS)}
    # Without adaptive execution, the result keeps all its partitions, however small.
    spark.conf.set("spark.sql.adaptive.enabled", "false")
    spark.conf.set(PARTITIONS, "8")
    try:
        batches = SparkEngine(spark).changed_rows(driver_view(tmp_path), None, None, 1)
        first = next(batches)
        jobs_for_first = len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))
        rest = list(batches)
        jobs_for_all = len(spark.sparkContext.statusTracker().getJobIdsForGroup(group))
    finally:
        spark.sparkContext.setLocalProperty("spark.jobGroup.id", None)
        for key, value in previous.items():
            spark.conf.set(key, value)
    assert first.num_rows == 1
    assert sorted(r["trips"] for b in [first, *rest] for r in b.to_pylist()) == list(range(40))
    assert jobs_for_first < jobs_for_all


PARTITIONS = "spark.sql.shuffle.partitions"


def test_appended_rows_are_joined_and_changed(engine: OfflineEngine, tmp_path: Path) -> None:
    write(tmp_path, "part-0.parquet", [source_row(1, 9, 90)])
    view = driver_view(tmp_path, pattern="part-*.parquet")
    rows = pa.Table.from_pylist([source_row(1, 9.5, 95), source_row(2, 9.5, 25)], SOURCE_SCHEMA)
    path = engine.append(view, rows.set_column(3, "trips", rows["trips"].cast(pa.int32())))
    assert Path(path).parent == tmp_path
    assert Path(path).name.startswith("part-")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["part-0.parquet", Path(path).name])
    assert trips(engine, view, entities((1, 10), (2, 10))) == [95, 25]
    assert [r["trips"] for r in changed(engine, view, at(9.25), at(9.25))] == [95, 25]


def test_appends_are_checked_like_a_source(engine: OfflineEngine, tmp_path: Path) -> None:
    view = driver_view(tmp_path)
    rows = pa.Table.from_pylist([source_row(1, 9, 90)], SOURCE_SCHEMA)
    with pytest.raises(
        SourceDataError, match=r"rows to append: column 'event_timestamp'.*UTC-aware"
    ):
        engine.append(view, _naive_timestamps(rows))
    with pytest.raises(SourceDataError, match="rows to append: column 'driver_id' has 1 nulls"):
        engine.append(view, _null_key(rows))
    with pytest.raises(ValueError, match="cannot append"):
        engine.append(driver_view(tmp_path, pattern="drivers.parquet"), rows)
    with pytest.raises(ValueError, match="cannot append"):
        engine.append(driver_view(tmp_path, pattern="*.csv"), rows)
    assert list(tmp_path.iterdir()) == []


# --- Properties: every engine equals the reference join ---------------------------------------

EXAMPLES = {DuckDBEngine: 60, SparkEngine: 25}
PROPERTY_SETTINGS = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
}
# Few keys and a coarse clock, so that ties, late writes and ttl edges are common.
times = st.integers(0, 8).map(lambda i: T0 + i * HALF_HOUR)


def maybe(values: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.none() | values


@dataclass(frozen=True)
class Scenario:
    files: list[list[dict[str, object]]]  # driver rows, split over files part-0, part-1, ...
    route_rows: list[dict[str, object]] | None  # a second view, when drawn
    entity_rows: list[dict[str, object]]
    ttl: dt.timedelta | None
    created: bool
    created_cutoff: bool
    full_feature_names: bool
    statistics: bool  # in the footers; without, an engine cannot plan on value ranges


@st.composite
def driver_rows(draw: st.DrawFn) -> dict[str, object]:
    event = draw(times)
    return {
        "driver_id": draw(st.integers(0, 2)),
        "event_timestamp": event,
        "created": event + draw(st.sampled_from([-1, 0, 0, 1, 4])) * HALF_HOUR,
        "trips": draw(maybe(st.integers(-(2**63), 2**63 - 1))),
        "rating": draw(maybe(st.floats(allow_nan=False))),
        "city": draw(maybe(st.sampled_from(["Oslo", "Lima", ""]))),
        "active": draw(maybe(st.booleans())),
    }


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    files = draw(st.lists(st.lists(driver_rows(), max_size=10), min_size=1, max_size=2))
    two_views = draw(st.booleans())
    route_rows = None
    if two_views:
        route_rows = draw(
            st.lists(
                st.fixed_dictionaries(
                    {
                        "driver_id": st.integers(0, 2),
                        "route": st.sampled_from(["a", "b"]),
                        "event_timestamp": times,
                        "score": maybe(st.floats(allow_nan=False)),
                    }
                ),
                max_size=6,
            )
        )
    entity_time = maybe(st.integers(-1, 10).map(lambda i: T0 + i * HALF_HOUR))
    entity_row = st.fixed_dictionaries(
        {"driver_id": maybe(st.integers(0, 3)), "event_timestamp": entity_time}
        | ({"route": maybe(st.sampled_from(["a", "b", "c"]))} if two_views else {})
    )
    return Scenario(
        files=files,
        route_rows=route_rows,
        entity_rows=draw(st.lists(entity_row, max_size=8)),
        ttl=draw(maybe(st.integers(1, 8).map(lambda i: i * HALF_HOUR))),
        created=draw(st.booleans()),
        created_cutoff=draw(st.booleans()),
        full_feature_names=two_views or draw(st.booleans()),
        statistics=draw(st.booleans()),
    )


def test_the_join_equals_the_reference(
    engine: OfflineEngine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    @settings(max_examples=EXAMPLES[type(engine)], **PROPERTY_SETTINGS)
    @given(scenarios())
    def joins_like_the_reference(scenario: Scenario) -> None:
        directory = tmp_path_factory.mktemp("join")
        for i, rows in enumerate(scenario.files):
            write(directory / "drivers", f"part-{i}.parquet", rows, statistics=scenario.statistics)
        drivers = driver_view(directory / "drivers", scenario.ttl, scenario.created)
        features = ("trips", "rating", "city", "active")
        views = [ViewRows(drivers, features, [r for rows in scenario.files for r in rows])]
        if scenario.route_rows is not None:
            write(directory / "routes", "part-0.parquet", scenario.route_rows, ROUTE_SCHEMA)
            views.append(
                ViewRows(route_view(directory / "routes"), ("score",), scenario.route_rows)
            )
        schema = pa.schema([("driver_id", pa.int64()), ("event_timestamp", UTC)])
        if scenario.route_rows is not None:
            schema = schema.append(pa.field("route", pa.string()))
        entity_rows = pa.Table.from_pylist(scenario.entity_rows, schema)
        options = JoinOptions(
            created_cutoff=scenario.created_cutoff, full_feature_names=scenario.full_feature_names
        )
        joined = engine.historical_features(
            entity_rows, [FeatureRequest(v.view, v.features) for v in views], options
        )
        expected = point_in_time_join(
            entity_rows.to_pylist(),
            views,
            entity_timestamp_column="event_timestamp",
            created_cutoff=scenario.created_cutoff,
            full_feature_names=scenario.full_feature_names,
        )
        assert joined.to_pylist() == expected

    joins_like_the_reference()


def test_changed_rows_equal_the_reference(
    engine: OfflineEngine, tmp_path_factory: pytest.TempPathFactory
) -> None:
    @settings(max_examples=EXAMPLES[type(engine)], **PROPERTY_SETTINGS)
    @given(
        files=st.lists(st.lists(driver_rows(), max_size=8), min_size=1, max_size=2),
        created=st.booleans(),
        event_after=maybe(times),
        created_after=maybe(times),
        batch_rows=st.integers(1, 4),
    )
    def changes_like_the_reference(
        files: list[list[dict[str, object]]],
        created: bool,
        event_after: dt.datetime | None,
        created_after: dt.datetime | None,
        batch_rows: int,
    ) -> None:
        directory = tmp_path_factory.mktemp("changed")
        for i, rows in enumerate(files):
            write(directory, f"part-{i}.parquet", rows)
        view = driver_view(directory, created=created)
        expected = latest_changed_rows(
            view, [r for rows in files for r in rows], event_after, created_after=created_after
        )
        assert changed(engine, view, event_after, created_after, batch_rows) == sorted(
            expected, key=lambda r: str(r["driver_id"])
        )

    changes_like_the_reference()
