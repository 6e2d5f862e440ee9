"""DuckDBEngine: point-in-time joins over a view's Parquet files, in embedded DuckDB.

Also the Parquet contract both engines keep: which files a source is (its glob, in path order),
how they are checked against the declaration, and how rows are appended (atomically). Each call
runs on a DuckDB cursor of its own, so worker threads may share one engine. Time is compared as
UTC instants, to the microsecond.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import glob
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from paved.api.feature_view import DataType
from paved.core.feature_views import ViewDefinition
from paved.core.point_in_time import check_entity_columns, output_feature_names
from paved.errors import SourceDataError
from paved.ports.offline import FeatureRequest, JoinOptions

_UTC_MICROS = pa.timestamp("us", tz="UTC")
_ARROW_TYPES: dict[DataType, pa.DataType] = {
    DataType.INT64: pa.int64(),
    DataType.FLOAT64: pa.float64(),
    DataType.STRING: pa.string(),
    DataType.BOOL: pa.bool_(),
}
_SQL_TYPES = {
    DataType.INT64: "BIGINT",
    DataType.FLOAT64: "DOUBLE",
    DataType.STRING: "VARCHAR",
    DataType.BOOL: "BOOLEAN",
}
# Lossless widenings only: a source may store int32 for int64, float32 for float64.
_ACCEPTS: dict[DataType, Callable[[pa.DataType], bool]] = {
    DataType.INT64: lambda t: pa.types.is_integer(t) and t != pa.uint64(),
    DataType.FLOAT64: lambda t: pa.types.is_float64(t) or pa.types.is_float32(t),
    DataType.STRING: lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    DataType.BOOL: pa.types.is_boolean,
}


@dataclass(frozen=True)
class ParquetSource:
    """A view's source files in path order, each checked against the view's declaration."""

    view: ViewDefinition
    files: tuple[str, ...]
    schemas: tuple[pa.Schema, ...]
    key_types: tuple[pa.DataType, ...]  # per join key: int64 or string


def parquet_source(view: ViewDefinition) -> ParquetSource:
    """The files `view.source` matches; SourceDataError names the first file that breaks the
    declaration: no file at all, a missing column, a wrong type, a null key or timestamp."""
    files = tuple(sorted(glob.glob(view.source, recursive=True)))
    if not files:
        raise SourceDataError(f"FeatureView {view.name}: no Parquet file matches {view.source}")
    schemas = []
    key_types: tuple[pa.DataType, ...] = ()
    for file in files:
        metadata = pq.read_metadata(file)
        schema = metadata.schema.to_arrow_schema()
        types = _check_columns(view, schema, file)
        if key_types and types != key_types:
            raise SourceDataError(
                f"{file}: join keys {', '.join(view.join_keys)} are {_listed(types)},"
                f" other files of FeatureView {view.name} have {_listed(key_types)}"
            )
        key_types = types
        _check_no_nulls_in_file(view, file, metadata)
        schemas.append(schema)
    return ParquetSource(view, files, tuple(schemas), key_types)


def _check_columns(view: ViewDefinition, schema: pa.Schema, where: str) -> tuple[pa.DataType, ...]:
    """SourceDataError unless `schema` has the declared columns and types; the key types."""
    key_types = []
    for key in view.join_keys:
        actual = _declared_column(schema, key, where)
        if not (_ACCEPTS[DataType.INT64](actual) or _ACCEPTS[DataType.STRING](actual)):
            raise SourceDataError(
                f"{where}: join key {key!r} is {actual}, not an integer or string"
            )
        key_types.append(pa.int64() if pa.types.is_integer(actual) else pa.string())
    for column in _timestamp_columns(view):
        _check_utc_timestamp(_declared_column(schema, column, where), column, where)
    for feature in view.features:
        actual = _declared_column(schema, feature.name, where)
        if not _ACCEPTS[feature.dtype](actual):
            raise SourceDataError(
                f"{where}: column {feature.name!r} is {actual}, declared {feature.dtype}"
            )
    return tuple(key_types)


def _check_utc_timestamp(actual: pa.DataType, column: str, where: str) -> None:
    if not pa.types.is_timestamp(actual) or actual.tz is None:
        raise SourceDataError(
            f"{where}: column {column!r} is {actual}; it must be a UTC-aware timestamp"
        )


def check_entity_rows(
    entity_rows: pa.Table, sources: Sequence[ParquetSource], timestamp_column: str
) -> None:
    """ValueError for missing or mistyped key columns, SourceDataError for a naive timestamp."""
    check_entity_columns(entity_rows.column_names, (s.view for s in sources), timestamp_column)
    _check_utc_timestamp(
        entity_rows.schema.field(timestamp_column).type, timestamp_column, "entity rows"
    )
    for source in sources:
        for key, source_type in zip(source.view.join_keys, source.key_types, strict=True):
            actual = entity_rows.schema.field(key).type
            if pa.types.is_integer(actual) != pa.types.is_integer(source_type):
                raise ValueError(
                    f"entity column {key!r} is {actual}, but FeatureView {source.view.name}"
                    f" keys it by {source_type}"
                )


def numbered_entity_rows(
    entity_rows: pa.Table, requests: Sequence[FeatureRequest], timestamp_column: str
) -> tuple[pa.Table, dict[str, str]]:
    """What a join needs of the entity rows, under fixed names no user column can collide with:
    row_id (the input order), entity_time (UTC) and the join keys as k0, k1, ... (by key)."""
    keys = {
        key: f"k{i}"
        for i, key in enumerate(dict.fromkeys(k for r in requests for k in r.view.join_keys))
    }
    numbered = pa.table(
        {
            "row_id": pa.array(np.arange(entity_rows.num_rows, dtype=np.int64)),
            "entity_time": pc.cast(entity_rows[timestamp_column], _UTC_MICROS, safe=False),
        }
        | {alias: entity_rows[key] for key, alias in keys.items()}
    )
    return numbered, keys


def with_features(
    entity_rows: pa.Table,
    requests: Sequence[FeatureRequest],
    names: list[list[str]],
    features: Sequence[pa.ChunkedArray],
) -> pa.Table:
    """The entity rows as they came, then each requested feature (in entity row order) under its
    output name and declared type."""
    types = [_ARROW_TYPES[r.view.feature(f).dtype] for r in requests for f in r.features]
    flat_names = [name for view_names in names for name in view_names]
    joined = entity_rows
    for name, arrow_type, column in zip(flat_names, types, features, strict=True):
        joined = joined.append_column(pa.field(name, arrow_type), column.cast(arrow_type))
    return joined


def changed_rows_schema(source: ParquetSource) -> pa.Schema:
    """The columns of changed rows: join keys, timestamps (UTC), features, as declared."""
    view = source.view
    return pa.schema(
        [
            *zip(view.join_keys, source.key_types, strict=True),
            *((c, _UTC_MICROS) for c in _timestamp_columns(view)),
            *((f.name, _ARROW_TYPES[f.dtype]) for f in view.features),
        ]
    )


@dataclass(frozen=True)
class Watermarks:
    event: dt.datetime
    created: dt.datetime | None  # None for views without a created timestamp


def watermarks(
    view: ViewDefinition, event_after: dt.datetime | None, created_after: dt.datetime | None
) -> Watermarks | None:
    """What a changed row must be newer than (in event or created time); None: every row is,
    as a missing watermark lets every row through."""
    for watermark in (event_after, created_after):
        if watermark is not None and watermark.tzinfo is None:
            raise ValueError(f"watermark {watermark} must be time-zone aware")
    created = view.created_timestamp_field
    if event_after is None or (created is not None and created_after is None):
        return None
    return Watermarks(event_after, created_after if created else None)


def checked_batch_rows(batch_rows: int) -> int:
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be checked_batch_rows, not {batch_rows}")
    return batch_rows


def append_parquet(view: ViewDefinition, rows: pa.Table) -> str:
    """Write `rows` as a new file that `view.source` matches (temp name, then rename)."""
    directory, pattern = os.path.split(view.source)
    # Time first: later appends come later in path order, which decides full ties.
    token = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}"
    names = [pattern.replace("*", token, 1).replace("*", ""), f"{token}.parquet"]
    fitting = [
        name
        for name in names
        if token in name
        and name.endswith(".parquet")
        and not glob.has_magic(name)
        and fnmatch.fnmatchcase(name, pattern)
    ]
    if glob.has_magic(directory) or not fitting:
        raise ValueError(
            f"FeatureView {view.name}: cannot append to {view.source}; appending needs a plain"
            " directory and a file pattern that matches new *.parquet names"
        )
    key_types = _check_columns(view, rows.schema, "rows to append")
    _check_no_nulls(view, rows, "rows to append")
    canonical = pa.table(
        {key: rows[key].cast(t) for key, t in zip(view.join_keys, key_types, strict=True)}
        | {
            column: pc.cast(rows[column], _UTC_MICROS, safe=False)
            for column in _timestamp_columns(view)
        }
        | {f.name: rows[f.name].cast(_ARROW_TYPES[f.dtype]) for f in view.features}
    )
    path = os.path.join(directory, fitting[0])
    temporary = os.path.join(directory, f".{fitting[0]}.tmp")
    try:
        with open(temporary, "wb") as file:
            pq.write_table(canonical, file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


class DuckDBEngine:
    """OfflineEngine on DuckDB: resolve each row's source row on the narrow key and time columns
    (an ASOF join), then fetch the wide feature columns of just those rows by file position."""

    def __init__(self) -> None:
        # In memory and empty: each call reads Parquet through a cursor (a connection of its
        # own, so calls from several threads never share one) and leaves nothing behind.
        self._database = duckdb.connect()
        self._database.execute("SET GLOBAL TimeZone = 'UTC'")
        self._lock = threading.Lock()

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        with self._lock:
            return self._database.cursor()

    def historical_features(
        self, entity_rows: pa.Table, requests: Sequence[FeatureRequest], options: JoinOptions
    ) -> pa.Table:
        names = output_feature_names(
            [(r.view, r.features) for r in requests],
            options.full_feature_names,
            entity_rows.column_names,
        )
        sources = [parquet_source(r.view) for r in requests]
        check_entity_rows(entity_rows, sources, options.entity_timestamp_column)
        if not requests:
            return entity_rows
        narrow, keys = numbered_entity_rows(entity_rows, requests, options.entity_timestamp_column)
        query, params = _join_query(requests, sources, keys, options.created_cutoff)
        with closing(self._cursor()) as connection:
            connection.register("entity", narrow)
            features = connection.sql(query, params=params).to_arrow_table()
        return with_features(entity_rows, requests, names, features.columns)

    def changed_rows(
        self,
        view: ViewDefinition,
        event_after: dt.datetime | None,
        created_after: dt.datetime | None,
        batch_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        source = parquet_source(view)
        query, params = _changed_rows_query(source, watermarks(view, event_after, created_after))
        schema = changed_rows_schema(source)
        with closing(self._cursor()) as connection:
            reader = connection.sql(query, params=params).to_arrow_reader(
                checked_batch_rows(batch_rows)
            )
            for batch in reader:
                # DuckDB's batch size is a target, not a promise: cut to the caller's bound.
                for start in range(0, batch.num_rows, batch_rows):
                    yield batch.slice(start, batch_rows).cast(schema)

    def append(self, view: ViewDefinition, rows: pa.Table) -> str:
        return append_parquet(view, rows)


def _join_query(
    requests: Sequence[FeatureRequest],
    sources: Sequence[ParquetSource],
    keys: dict[str, str],
    created_cutoff: bool,
) -> tuple[str, dict[str, object]]:
    """One query for all views; its columns are the requested features, in entity row order.

    `entity` has row_id, entity_time and the join keys as k0, k1, ...; each view's CTEs and
    columns are prefixed v0, v1, ..."""
    ctes: list[str] = []
    joins: list[str] = []
    columns: list[str] = []
    params: dict[str, object] = {}
    for i, (request, source) in enumerate(zip(requests, sources, strict=True)):
        view, v = request.view, f"v{i}"
        params[f"{v}_files"] = _literal_paths(source.files)
        ctes += _chosen_rows_ctes(v, view, [keys[k] for k in view.join_keys], created_cutoff)
        names = [f"{v}_f{j}" for j in range(len(request.features))]
        fetched = [
            f"CAST({_quote(f)} AS {_SQL_TYPES[view.feature(f).dtype]}) AS {name}"
            for f, name in zip(request.features, names, strict=True)
        ]
        ctes.append(f"{v}_features AS (SELECT {', '.join([_POSITION, *fetched])} FROM {_read(v)})")
        joins.append(
            f"""
            LEFT JOIN {v}_chosen ON {v}_chosen.row_id = entity.row_id
            LEFT JOIN {v}_features ON {v}_features.position = {v}_chosen.position"""
        )
        columns += names
    query = f"""
        WITH {", ".join(ctes)}
        SELECT {", ".join(columns) or "entity.row_id"}
        FROM entity {" ".join(joins)}
        ORDER BY entity.row_id"""
    return query, params


def _chosen_rows_ctes(
    v: str, view: ViewDefinition, keys: list[str], created_cutoff: bool
) -> list[str]:
    """CTEs ending in `{v}_chosen(row_id, position)`: each entity row's source row, if any.
    The ASOF join takes the latest row at or before the entity time; comparing structs field by
    field breaks ties on created time, then source position."""
    created = view.created_timestamp_field
    recency = ["event", *(["created"] if created else []), "position"]
    source_columns = [
        *(f"{_quote(name)} AS {key}" for key, name in zip(keys, view.join_keys, strict=True)),
        f"{_quote(view.timestamp_field)}::TIMESTAMPTZ AS event",
        *([f"{_quote(created)}::TIMESTAMPTZ AS created"] if created else []),
        _POSITION,
    ]
    # The entity's side of the comparison: later than any row stamped at the entity time.
    entity_side = ", ".join(
        ["e.entity_time", *(["'infinity'::TIMESTAMPTZ"] if created else []), _LAST_POSITION]
    )
    row_side = ", ".join(f"s.{c}" for c in recency)
    # A NULL inside a struct compares as the largest value: rows without a time or a key stay out.
    complete = _all("entity_time IS NOT NULL", *(f"{k} IS NOT NULL" for k in keys))
    same_keys = _all(*(f"e.{k} = s.{k}" for k in keys))
    ctes = [
        f"{v}_source AS (SELECT {', '.join(source_columns)} FROM {_read(v)})",
        f"""
        {v}_latest AS (
            SELECT e.*, {row_side}
            FROM (SELECT * FROM entity WHERE {complete}) e
            ASOF JOIN {v}_source s ON {same_keys} AND ({entity_side}) >= ({row_side}))""",
    ]
    within_ttl = _within_ttl(view, "event", "entity_time")
    if not (created_cutoff and created):
        return [
            *ctes,
            f"""
            {v}_chosen AS (
                SELECT row_id, position FROM {v}_latest WHERE {_all(within_ttl)})""",
        ]
    # The latest row may have been written after the entity time; then an earlier row counts.
    # Only for those entity rows (usually few) does a range join over the entity's rows find it.
    visible = _all(
        *(f"l.{k} = s.{k}" for k in keys),
        "s.event <= l.entity_time",
        "s.created <= l.entity_time",
        _within_ttl(view, "s.event", "l.entity_time"),
    )
    written_late = _all(_within_ttl(view, "l.event", "l.entity_time"), "l.created > l.entity_time")
    latest_first = ", ".join(f"s.{c} DESC" for c in recency)
    return [
        *ctes,
        f"""
        {v}_chosen AS (
            SELECT row_id, position FROM {v}_latest
            WHERE {_all(within_ttl, "created <= entity_time")}
            UNION ALL
            SELECT l.row_id, s.position
            FROM {v}_latest l JOIN {v}_source s ON {visible}
            WHERE {written_late}
            QUALIFY row_number() OVER (PARTITION BY l.row_id ORDER BY {latest_first}) = 1)""",
    ]


def _all(*predicates: str) -> str:
    return " AND ".join(p for p in predicates if p) or "TRUE"


def _within_ttl(view: ViewDefinition, event: str, at: str) -> str:
    if view.ttl is None:
        return ""
    return f"{event} >= {at} - to_microseconds({view.ttl // dt.timedelta(microseconds=1)})"


def _changed_rows_query(
    source: ParquetSource, newer_than: Watermarks | None
) -> tuple[str, dict[str, object]]:
    view = source.view
    created = view.created_timestamp_field
    timestamps = _timestamp_columns(view)
    columns = [
        *(
            f"{_quote(k)}::{'BIGINT' if t == pa.int64() else 'VARCHAR'} AS {_quote(k)}"
            for k, t in zip(view.join_keys, source.key_types, strict=True)
        ),
        *(f"{_quote(c)}::TIMESTAMPTZ AS {_quote(c)}" for c in timestamps),
        *(
            f"CAST({_quote(f.name)} AS {_SQL_TYPES[f.dtype]}) AS {_quote(f.name)}"
            for f in view.features
        ),
    ]
    params: dict[str, object] = {"files": _literal_paths(source.files)}
    where = ""
    if newer_than is not None:
        params["event_after"] = newer_than.event
        where = f" WHERE {_quote(view.timestamp_field)} > $event_after"
        if created is not None:
            params["created_after"] = newer_than.created
            where += f" OR {_quote(created)} > $created_after"
    recency = ", ".join(f"{_quote(c)} DESC" for c in timestamps)
    query = (
        f"SELECT {', '.join(columns)} FROM read_parquet($files, union_by_name = true)"
        f"{where}"
        f" QUALIFY row_number() OVER (PARTITION BY {', '.join(map(_quote, view.join_keys))}"
        f" ORDER BY {recency}, file_index DESC, file_row_number DESC) = 1"
    )
    return query, params


# A source row's place in path-then-row order, as one number: the file's index in the high bits
# (up to 2^23 files of up to 2^40 rows each).
_POSITION = "(file_index::BIGINT << 40) + file_row_number AS position"
_LAST_POSITION = f"{np.iinfo(np.int64).max}::BIGINT"


def _read(v: str) -> str:
    return f"read_parquet(${v}_files, union_by_name = true)"


def _literal_paths(files: Sequence[str]) -> list[str]:
    """DuckDB reads each path as a glob: bracket its glob characters so each means itself."""
    return [re.sub(r"([*?\[])", r"[\1]", file) for file in files]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _timestamp_columns(view: ViewDefinition) -> list[str]:
    created = view.created_timestamp_field
    return [view.timestamp_field, *([created] if created else [])]


def _declared_column(schema: pa.Schema, column: str, where: str) -> pa.DataType:
    if schema.get_field_index(column) < 0:
        raise SourceDataError(f"{where}: the declared column {column!r} is missing")
    return schema.field(column).type


_NO_NULLS = "join keys and timestamps may not be null"


def _must_not_be_null(view: ViewDefinition) -> list[str]:
    return [*view.join_keys, *_timestamp_columns(view)]


def _check_no_nulls_in_file(view: ViewDefinition, file: str, metadata: pq.FileMetaData) -> None:
    """From the footer's statistics; only columns written without them are read."""
    positions = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    for column in _must_not_be_null(view):
        chunks = [
            metadata.row_group(g).column(positions[column]) for g in range(metadata.num_row_groups)
        ]
        stats = [chunk.statistics for chunk in chunks]
        if all(s is not None and s.has_null_count for s in stats):
            nulls = sum(s.null_count for s in stats)
        else:
            nulls = pq.read_table(file, columns=[column])[column].null_count
        if nulls:
            raise SourceDataError(f"{file}: column {column!r} has {nulls} nulls; {_NO_NULLS}")


def _check_no_nulls(view: ViewDefinition, rows: pa.Table, where: str) -> None:
    for column in _must_not_be_null(view):
        if rows[column].null_count:
            nulls = rows[column].null_count
            raise SourceDataError(f"{where}: column {column!r} has {nulls} nulls; {_NO_NULLS}")


def _listed(types: tuple[pa.DataType, ...]) -> str:
    return ", ".join(str(t) for t in types)
