"""DuckDBEngine: point-in-time joins over a view's Parquet files, in embedded DuckDB.

DuckDB resolves which source row each entity row takes (an ASOF join on the narrow key and time
columns); the features of just those rows are then read from the files by position. Each call
runs on an in-memory DuckDB of its own (so worker threads may share one engine) that may read
only the files the call resolved under the data root, and nothing else (`locked_connection`;
about 20 ms to open, against joins of seconds). Time is compared as UTC instants, to the
microsecond.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa

from paved.adapters.offline.parquet import (
    ChangedSince,
    ParquetSource,
    append_parquet,
    changed_rows_schema,
    changed_since,
    check_entity_rows,
    checked_batch_rows,
    checked_until,
    numbered_entity_rows,
    parquet_source,
    take_rows,
    timestamp_columns,
    with_features,
)
from paved.api.feature_view import DataType
from paved.core.feature_views import ViewDefinition
from paved.core.point_in_time import output_feature_names
from paved.errors import SourceUnreadableError
from paved.ports.offline import FeatureRequest, JoinOptions, created_cutoff

_SQL_TYPES = {
    DataType.INT64: "BIGINT",
    DataType.INT32: "INTEGER",
    DataType.FLOAT64: "DOUBLE",
    DataType.FLOAT32: "FLOAT",
    DataType.STRING: "VARCHAR",
    DataType.BOOL: "BOOLEAN",
    DataType.TIMESTAMP: "TIMESTAMPTZ",
}
# DuckDB sorts fast on keys of up to 24 bytes: a 4-byte join key (5 with its null flag) and a
# 16-byte HUGEINT (17) fit; a BIGINT key with a HUGEINT, or any struct, does not.
_INTEGER_KEY_SPAN = 2**31  # keys - their least fit INTEGER below this
_PACKED_BITS = 126  # of HUGEINT's 127, so the entity side's -1 ("before every row") stays apart


class DuckDBEngine:
    """OfflineEngine on DuckDB: resolve each row's source row on the narrow key and time columns
    (an ASOF join), then fetch the wide feature columns of just those rows by file position."""

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
        features: list[pa.Array] = []
        with closing(locked_connection([f for s in sources for f in s.files])) as connection:
            connection.register("entity", narrow)
            for request, source in zip(requests, sources, strict=True):
                plan = _Plan.of(source)
                view_keys = [keys[k] for k in request.view.join_keys]
                query = _chosen_rows_query(plan, view_keys, created_cutoff(options, request.view))
                chosen = connection.sql(query, params={"files": plan.files}).to_arrow_table()
                positions = plan.dense_positions(chosen, entity_rows.num_rows)
                features += take_rows(source, request.features, positions)
        return with_features(entity_rows, requests, names, features)

    def changed_rows(
        self,
        view: ViewDefinition,
        event_after: dt.datetime | None,
        created_after: dt.datetime | None,
        batch_rows: int,
        *,
        until: dt.datetime | None = None,
    ) -> Iterator[pa.RecordBatch]:
        source = parquet_source(view)
        newer_than = changed_since(view, event_after, created_after)
        query, params = _changed_rows_query(source, newer_than, checked_until(until))
        schema = changed_rows_schema(source)
        with closing(locked_connection(source.files)) as connection:
            try:
                reader = connection.sql(query, params=params).to_arrow_reader(
                    checked_batch_rows(batch_rows)
                )
                for batch in reader:
                    # DuckDB's batch size is a target, not a promise: cut to the caller's bound.
                    for start in range(0, batch.num_rows, batch_rows):
                        yield batch.slice(start, batch_rows).cast(schema)
            except (duckdb.IOException, duckdb.InvalidInputException) as error:
                # A footer that reads but pages that do not: a corrupt file.
                raise SourceUnreadableError(
                    f"FeatureView {view.name}: reading {view.source} failed: {error}"
                ) from error

    def append(self, view: ViewDefinition, rows: pa.Table) -> str:
        return append_parquet(view, rows)


def locked_connection(files: Sequence[str] = ()) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB in UTC that may read `files` and nothing else: no other file, no
    network, no extension to install or load, nothing written (no spill directory either), and
    its configuration locked so that no statement can undo any of it. Every connection that
    reads user-named data or evaluates a user's filter is one of these."""
    connection = duckdb.connect(
        config={"autoinstall_known_extensions": False, "autoload_known_extensions": False}
    )
    try:
        connection.execute("SET TimeZone = 'UTC'")
        # DuckDB checks the path as the query names it: the glob-escaped form read_parquet is
        # given, as well as the plain one.
        allowed = sorted({*files, *_literal_paths(files)})
        connection.execute("SET allowed_paths = $paths", {"paths": allowed})
        connection.execute("SET allowed_directories = []")
        connection.execute("SET temp_directory = ''")
        connection.execute("SET enable_external_access = false")
        connection.execute("SET lock_configuration = true")
    except BaseException:
        connection.close()
        raise
    return connection


@dataclass(frozen=True)
class _Plan:
    """How one source's rows are ordered for the ASOF join.

    A row's recency is (event, created, position), position being the file's index in path
    order, then the row's number in the file: `(file_index << row_bits) + file_row_number`.
    When the footers bound the values tightly enough, recency is packed into one HUGEINT and a
    single integer key is shifted into INTEGER range (`packing`); otherwise the join compares
    structs, which is exact for any data but sorts about a third slower.
    """

    view: ViewDefinition
    files: list[str]  # as DuckDB must name them
    row_bits: int
    file_starts: np.ndarray[tuple[int], np.dtype[np.int64]]  # each file's first dense position
    packing: _Packing | None

    def dense_positions(
        self, chosen: pa.Table, entity_rows: int
    ) -> np.ndarray[tuple[int], np.dtype[np.int64]]:
        """Per entity row, its chosen row numbered across the files in path order, as
        `take_rows` counts; -1 for none. `chosen` has row_id and position."""
        dense = np.full(entity_rows, -1, np.int64)
        position = chosen["position"].to_numpy()
        files = position >> self.row_bits
        rows = position - (files << self.row_bits)
        dense[chosen["row_id"].to_numpy()] = self.file_starts[files] + rows
        return dense

    @classmethod
    def of(cls, source: ParquetSource) -> _Plan:
        row_counts = [footer.num_rows for footer in source.footers]
        row_bits = max(1, max(row_counts) - 1).bit_length()
        file_bits = max(0, len(source.files) - 1).bit_length()
        starts = np.cumsum([0, *row_counts[:-1]], dtype=np.int64)
        return cls(
            view=source.view,
            files=_literal_paths(source.files),
            row_bits=row_bits,
            file_starts=starts,
            packing=_Packing.of(source, row_bits + file_bits),
        )


@dataclass(frozen=True)
class _Packing:
    """Recency as `((event - event_min) << event_shift) + ((created - created_min) <<
    position_bits) + position`, times in epoch µs; the join key as `key - key_min`. Each range is
    (least, greatest) over the source, from the files' footers."""

    key: tuple[int, int]
    event: tuple[int, int]
    created: tuple[int, int] | None  # None: the view has no created timestamp
    event_shift: int
    position_bits: int

    @classmethod
    def of(cls, source: ParquetSource, position_bits: int) -> _Packing | None:
        view, bounds = source.view, source.bounds
        columns = [*view.join_keys, *timestamp_columns(view)]
        if (
            len(view.join_keys) != 1
            or source.key_types[0] != pa.int64()
            or any(c not in bounds for c in columns)
        ):
            return None
        key, event = bounds[view.join_keys[0]], bounds[view.timestamp_field]
        created = bounds[view.created_timestamp_field] if view.created_timestamp_field else None
        event_shift = position_bits + (_span(created).bit_length() if created else 0)
        if (
            _span(key) >= _INTEGER_KEY_SPAN
            or _span(event).bit_length() + event_shift > _PACKED_BITS
        ):
            return None
        return cls(key, event, created, event_shift, position_bits)

    def source_key(self, column: str) -> str:
        return f"({column} - {self.key[0]})::INTEGER"

    def entity_key(self, column: str) -> str:
        # Keys outside the source's range match nothing: NULL, which the join skips.
        low, high = self.key
        return f"CASE WHEN {column} BETWEEN {low} AND {high} THEN ({column} - {low})::INTEGER END"

    def source_recency(self, event: str, created: str | None, position: str) -> str:
        parts = [_shifted(event, self.event, self.event_shift)]
        if created is not None and self.created is not None:
            parts.append(_shifted(created, self.created, self.position_bits))
        return " + ".join([*parts, position])

    def entity_recency(self, entity_time: str) -> str:
        """Above every row at or before `entity_time`, below every later row; -1 when every row
        is later. Clamped, so no entity time overflows."""
        low, high = self.event
        clamped = f"greatest(least(epoch_us({entity_time}), {high}), {low - 1})"
        return (
            f"(({clamped} - {low})::HUGEINT * {1 << self.event_shift}::HUGEINT"
            f" + {(1 << self.event_shift) - 1}::HUGEINT)"
        )


def _span(bounds: tuple[int, int]) -> int:
    return bounds[1] - bounds[0]


def _shifted(timestamp: str, bounds: tuple[int, int], shift: int) -> str:
    """`(timestamp - least) << shift` in epoch µs; an error for a time outside the bounds the
    files' statistics promised, rather than a silently wrong order."""
    micros = f"epoch_us({timestamp})"
    low, high = bounds
    return (
        f"(CASE WHEN {micros} BETWEEN {low} AND {high}"
        f" THEN ({micros} - {low})::HUGEINT << {shift}"
        " ELSE error('a source time lies outside the range its Parquet statistics give') END)"
    )


def _chosen_rows_query(plan: _Plan, keys: list[str], created_cutoff: bool) -> str:
    """Each entity row's source row, if any, as (row_id, position).

    `entity` has row_id, entity_time and the join keys as k0, k1, ... The ASOF join takes the
    latest row at or before the entity time, ties broken by created time, then position."""
    view, packing = plan.view, plan.packing
    created = view.created_timestamp_field
    position = f"(file_index::BIGINT << {plan.row_bits}) + file_row_number"
    event = f"{_quote(view.timestamp_field)}::TIMESTAMPTZ"
    created_at = f"{_quote(created)}::TIMESTAMPTZ" if created else None
    source_keys = [
        f"{packing.source_key(_quote(name)) if packing else _quote(name)} AS {key}"
        for key, name in zip(keys, view.join_keys, strict=True)
    ]
    entity_keys = [f"{packing.entity_key(key) if packing else key} AS {key}" for key in keys]
    if packing is not None:
        row_side = packing.source_recency(event, created_at, position)
        entity_side = packing.entity_recency("e.entity_time")
        recency_columns = [f"{row_side} AS recency"]
        condition = f"{entity_side} >= s.recency"
    else:
        # Compared field by field, structs break ties on created time, then position. A NULL
        # inside a struct compares as the largest value: rows without a time or key stay out.
        later = ["'infinity'::TIMESTAMPTZ"] if created else []
        entity_fields = ["e.entity_time", *later, _LAST_POSITION]
        row_fields = ["s.event", *(["s.created"] if created else []), "s.position"]
        recency_columns = []
        condition = f"({', '.join(entity_fields)}) >= ({', '.join(row_fields)})"
    source_columns = [
        *source_keys,
        f"{event} AS event",
        *([f"{created_at} AS created"] if created_at else []),
        f"{position} AS position",
        *recency_columns,
    ]
    complete = _all("entity_time IS NOT NULL", *(f"{k} IS NOT NULL" for k in keys))
    same_keys = _all(*(f"e.{k} = s.{k}" for k in keys))
    ctes = [
        f"source AS (SELECT {', '.join(source_columns)} FROM {_READ})",
        f"""
        latest AS (
            SELECT e.*, s.event, {"s.created, " if created else ""}s.position
            FROM (SELECT row_id, entity_time, {", ".join(entity_keys)}
                  FROM entity WHERE {complete}) e
            ASOF JOIN source s ON {same_keys} AND {condition})""",
    ]
    within_ttl = _within_ttl(view, "event", "entity_time")
    if not (created_cutoff and created):
        return f"""
            WITH {", ".join(ctes)}
            SELECT row_id, position FROM latest WHERE {_all(within_ttl)}"""
    # The latest row may have been written after the entity time; then an earlier row counts.
    # Only for those entity rows (usually few) does a range join over the entity's rows find it.
    visible = _all(
        *(f"l.{k} = s.{k}" for k in keys),
        "s.event <= l.entity_time",
        "s.created <= l.entity_time",
        _within_ttl(view, "s.event", "l.entity_time"),
    )
    written_late = _all(_within_ttl(view, "l.event", "l.entity_time"), "l.created > l.entity_time")
    latest_first = "s.event DESC, s.created DESC, s.position DESC"
    return f"""
        WITH {", ".join(ctes)}
        SELECT row_id, position FROM latest
        WHERE {_all(within_ttl, "created <= entity_time")}
        UNION ALL
        SELECT l.row_id, s.position
        FROM latest l JOIN source s ON {visible}
        WHERE {written_late}
        QUALIFY row_number() OVER (PARTITION BY l.row_id ORDER BY {latest_first}) = 1"""


def _all(*predicates: str) -> str:
    return " AND ".join(p for p in predicates if p) or "TRUE"


def _within_ttl(view: ViewDefinition, event: str, at: str) -> str:
    if view.ttl is None:
        return ""
    return f"{event} >= {at} - to_microseconds({view.ttl // dt.timedelta(microseconds=1)})"


def _changed_rows_query(
    source: ParquetSource, newer_than: ChangedSince | None, until: dt.datetime | None
) -> tuple[str, dict[str, object]]:
    view = source.view
    created = view.created_timestamp_field
    timestamps = timestamp_columns(view)
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
    conditions = []
    if newer_than is not None:
        params["event_after"] = newer_than.event
        newer = f"{_quote(view.timestamp_field)} > $event_after"
        if created is not None:
            params["created_after"] = newer_than.created
            newer += f" OR {_quote(created)} > $created_after"
        conditions.append(f"({newer})")
    if until is not None:
        params["until"] = until
        conditions += [f"{_quote(c)} <= $until" for c in timestamps]
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    recency = ", ".join(f"{_quote(c)} DESC" for c in timestamps)
    query = (
        f"SELECT {', '.join(columns)} FROM {_READ}"
        f"{where}"
        f" QUALIFY row_number() OVER (PARTITION BY {', '.join(map(_quote, view.join_keys))}"
        f" ORDER BY {recency}, file_index DESC, file_row_number DESC) = 1"
    )
    return query, params


_READ = "read_parquet($files, union_by_name = true)"
_LAST_POSITION = f"{np.iinfo(np.int64).max}::BIGINT"


def _literal_paths(files: Sequence[str]) -> list[str]:
    """DuckDB reads each path as a glob: bracket its glob characters so each means itself."""
    return [re.sub(r"([*?\[])", r"[\1]", file) for file in files]


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
