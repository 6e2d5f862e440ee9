"""The Parquet contract every offline engine keeps, whatever runs its joins.

Which files a source is (its glob, in path order), how they are checked against the view's
declaration, what their footers say about row counts and value ranges, how rows are fetched
back by source position, and how new rows are appended (atomically). Time is UTC, to the
microsecond.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import glob
import os
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import PurePosixPath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from paved.api.feature_view import DataType
from paved.core.data_paths import check_inside, resolve
from paved.core.entity_keys import KeyType
from paved.core.feature_views import ViewDefinition
from paved.core.point_in_time import check_entity_columns
from paved.errors import SourceDataError, SourceUnreadableError
from paved.ports.columns import ARROW_TYPES, UTC_MICROS
from paved.ports.offline import FeatureRequest

_INT32_FITS = (pa.int8(), pa.int16(), pa.int32(), pa.uint8(), pa.uint16())
# Lossless widenings only: a source may store int32 for int64, float32 for float64, never the
# other way round (a float64 source for a float32 feature would round every value).
_ACCEPTS: dict[DataType, Callable[[pa.DataType], bool]] = {
    DataType.INT64: lambda t: pa.types.is_integer(t) and t != pa.uint64(),
    DataType.INT32: lambda t: t in _INT32_FITS,
    DataType.FLOAT64: lambda t: pa.types.is_float64(t) or pa.types.is_float32(t),
    DataType.FLOAT32: lambda t: pa.types.is_float32(t) or pa.types.is_float16(t),
    DataType.STRING: lambda t: pa.types.is_string(t) or pa.types.is_large_string(t),
    DataType.BOOL: pa.types.is_boolean,
    DataType.TIMESTAMP: lambda t: pa.types.is_timestamp(t) and t.tz is not None,
}
_MICROS_PER_UNIT = {"ms": 1000, "us": 1}
_CORES = os.cpu_count() or 1


@dataclass(frozen=True)
class ParquetSource:
    """A view's source files in path order, each checked against the view's declaration."""

    view: ViewDefinition
    files: tuple[str, ...]
    schemas: tuple[pa.Schema, ...]
    key_types: tuple[pa.DataType, ...]  # per join key: int64 or string
    footers: tuple[pq.FileMetaData, ...]  # per file: its row groups, read once
    # Least and greatest value of integer join keys and of the timestamps (epoch µs) over all
    # files, when every row group's footer records them; a column without is absent.
    bounds: Mapping[str, tuple[int, int]]


def parquet_source(view: ViewDefinition) -> ParquetSource:
    """The files `view.source` matches; SourceDataError names the first file that breaks the
    declaration: no file at all, a missing column, a wrong type, a null key or timestamp."""
    files = tuple(real_matches(_source_field(view), view.source, view.data_root))
    if not files:
        raise SourceDataError(f"FeatureView {view.name}: no Parquet file matches {view.source}")
    schemas = []
    footers = []
    key_types: tuple[pa.DataType, ...] = ()
    bounds: dict[str, tuple[int, int]] | None = None
    for file in files:
        metadata = _footer(view, file)
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
        footers.append(metadata)
        if metadata.num_rows:
            bounds = _widest(bounds, _file_bounds(view, schema, metadata))
    return ParquetSource(view, files, tuple(schemas), key_types, tuple(footers), bounds or {})


def source_key_types(view: ViewDefinition) -> dict[str, KeyType] | None:
    """What the view's join keys are, as its first source file stores them (`parquet_source`
    holds every file to the same); None while no readable file says (none yet, or unreadable:
    the offline store's problem, reported there, not the online read's)."""
    try:
        files = real_matches(_source_field(view), view.source, view.data_root)
        if not files:
            return None
        schema = _footer(view, files[0]).schema.to_arrow_schema()
        types = _check_columns(view, schema, files[0])
    except SourceDataError:
        return None
    return {
        key: KeyType.INTEGER if t == pa.int64() else KeyType.STRING
        for key, t in zip(view.join_keys, types, strict=True)
    }


def real_matches(field: str, pattern: str, root: str) -> list[str]:
    """What `pattern` (a path or glob under the namespace's data root) matches, in path order,
    as real paths (links resolved): PathOutsideDataRootError when any of them, file or
    directory, is outside the root's real path. Readers then open only what was checked."""
    matches = sorted(glob.glob(pattern, recursive=True))
    real = {match: os.path.realpath(match) for match in matches}
    check_inside(field, pattern, os.path.realpath(root), matched=real)
    return [real[match] for match in matches]


def data_files(field: str, path: str, root: str) -> list[str]:
    """The files `path` names under the namespace's data root `root`: a file, a glob, or a
    directory (its files below, hidden and `_` names left out as Arrow's datasets do), as real
    paths, every one checked to be under the root (PathOutsideDataRootError otherwise)."""
    pattern = str(resolve(field, path, PurePosixPath(root)))
    real_root = os.path.realpath(root)
    files = []
    for match in real_matches(field, pattern, root):
        if not os.path.isdir(match):
            files.append(match)
            continue
        for directory, subdirectories, names in os.walk(match):  # links are not followed
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith((".", "_")))
            entries = [os.path.join(directory, n) for n in [*subdirectories, *sorted(names)]]
            real = {e: os.path.realpath(e) for e in entries if not _hidden(e)}
            check_inside(field, path, real_root, matched=real)
            files += [r for r in real.values() if os.path.isfile(r)]
    return files


def _source_field(view: ViewDefinition) -> str:
    return f"FeatureView {view.name}: spec.source.path"


def _hidden(path: str) -> bool:
    return os.path.basename(path).startswith((".", "_"))


def _footer(view: ViewDefinition, file: str) -> pq.FileMetaData:
    """The file's Parquet footer; SourceUnreadableError says why a file has none."""
    if os.path.isdir(file):
        raise SourceUnreadableError(
            f"FeatureView {view.name}: {file} is a directory, not a Parquet file; name its files,"
            f" e.g. {os.path.join(file, '*.parquet')}"
        )
    try:
        return pq.read_metadata(file)
    except (OSError, pa.ArrowException) as error:
        raise SourceUnreadableError(
            f"FeatureView {view.name}: {file} cannot be read as Parquet: {error}"
        ) from error


def take_rows(
    source: ParquetSource,
    features: Sequence[str],
    positions: np.ndarray[tuple[int], np.dtype[np.int64]],
) -> list[pa.Array]:
    """Each feature at `positions` (rows in path-then-row order; -1: none, a null), typed as
    declared. Reads only the row groups that hold a wanted row, one at a time."""
    types = [ARROW_TYPES[source.view.feature(f).dtype] for f in features]
    if not features:
        return []
    wanted = np.flatnonzero(positions >= 0)
    # In source order, each row group's rows are one slice, read and taken in one go.
    by_source = wanted[np.argsort(positions[wanted])]
    ordered = positions[by_source]
    # Rows without a source row point past the gathered ones, at a row of nulls: taking with
    # null indices instead costs about four times as much.
    back = np.full(len(positions), len(by_source), np.int64)
    back[by_source] = np.arange(len(by_source))
    columns: list[list[pa.Array]] = [[] for _ in features]
    # Arrow decodes a row group's columns on all cores, but takes one column at a time: the
    # takes go to a pool, a column per task.
    with ThreadPoolExecutor(_CORES) as pool:
        file_start = 0
        for file, footer in zip(source.files, source.footers, strict=True):
            group_start = file_start
            file_start += footer.num_rows
            if np.searchsorted(ordered, group_start) == np.searchsorted(ordered, file_start):
                continue
            # Handed the footer read before, pyarrow reads the row groups about half as fast.
            parquet = pq.ParquetFile(file)
            for group in range(footer.num_row_groups):
                group_end = group_start + footer.row_group(group).num_rows
                first, last = np.searchsorted(ordered, [group_start, group_end])
                if first < last:
                    rows = parquet.read_row_group(group, columns=list(features))
                    take = partial(_taken, pa.array(ordered[first:last] - group_start))
                    taken = pool.map(take, rows.columns, types)
                    for chunks, column in zip(columns, taken, strict=True):
                        chunks += column.chunks
                group_start = group_end
        gather = partial(_gathered, pa.array(back))
        return list(pool.map(gather, columns, types))


def _taken(indices: pa.Array, column: pa.ChunkedArray, arrow_type: pa.DataType) -> pa.ChunkedArray:
    return column.take(indices).cast(arrow_type)


def _gathered(indices: pa.Array, chunks: list[pa.Array], arrow_type: pa.DataType) -> pa.Array:
    # One array first: taking across chunks costs about twice the copy.
    return pa.concat_arrays([*chunks, pa.nulls(1, arrow_type)]).take(indices)


def _file_bounds(
    view: ViewDefinition, schema: pa.Schema, metadata: pq.FileMetaData
) -> dict[str, tuple[int, int]]:
    positions = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    bounds = {}
    groups = [g for g in range(metadata.num_row_groups) if metadata.row_group(g).num_rows]
    for column in [*view.join_keys, *timestamp_columns(view)]:
        arrow_type = schema.field(column).type
        lows, highs = [], []
        for group in groups:
            stats = metadata.row_group(group).column(positions[column]).statistics
            if stats is None or not stats.has_min_max:
                break
            if pa.types.is_integer(arrow_type):
                lows.append(stats.min)
                highs.append(stats.max)
            elif pa.types.is_timestamp(arrow_type) and stats.physical_type == "INT64":
                if arrow_type.unit == "ns":
                    # Nanoseconds become microseconds however they round: bound both ways.
                    lows.append(stats.min_raw // 1000)
                    highs.append(-(-stats.max_raw // 1000))
                else:
                    lows.append(stats.min_raw * _MICROS_PER_UNIT[arrow_type.unit])
                    highs.append(stats.max_raw * _MICROS_PER_UNIT[arrow_type.unit])
            else:
                break
        else:
            bounds[column] = (min(lows), max(highs))
    return bounds


def _widest(
    known: dict[str, tuple[int, int]] | None, more: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    """Bounds covering both; a column only one of them bounds is unbounded."""
    if known is None:
        return more
    return {
        column: (min(low, more[column][0]), max(high, more[column][1]))
        for column, (low, high) in known.items()
        if column in more
    }


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
    for column in timestamp_columns(view):
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
            "entity_time": pc.cast(entity_rows[timestamp_column], UTC_MICROS, safe=False),
        }
        | {alias: entity_rows[key] for key, alias in keys.items()}
    )
    return numbered, keys


def with_features(
    entity_rows: pa.Table,
    requests: Sequence[FeatureRequest],
    names: list[list[str]],
    features: Sequence[pa.Array | pa.ChunkedArray],
) -> pa.Table:
    """The entity rows as they came, then each requested feature (in entity row order) under its
    output name and declared type."""
    types = [ARROW_TYPES[r.view.feature(f).dtype] for r in requests for f in r.features]
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
            *((c, UTC_MICROS) for c in timestamp_columns(view)),
            *((f.name, ARROW_TYPES[f.dtype]) for f in view.features),
        ]
    )


@dataclass(frozen=True)
class ChangedSince:
    """The row filter a materialization's watermarks make: newer than these, in event (and,
    for views that have one, created) time."""

    event: dt.datetime
    created: dt.datetime | None  # None for views without a created timestamp


def changed_since(
    view: ViewDefinition, event_after: dt.datetime | None, created_after: dt.datetime | None
) -> ChangedSince | None:
    """What a changed row must be newer than (in event or created time); None: every row is,
    as a missing watermark lets every row through."""
    for watermark in (event_after, created_after):
        if watermark is not None and watermark.tzinfo is None:
            raise ValueError(f"watermark {watermark} must be time-zone aware")
    created = view.created_timestamp_field
    if event_after is None or (created is not None and created_after is None):
        return None
    return ChangedSince(event_after, created_after if created else None)


def checked_until(until: dt.datetime | None) -> dt.datetime | None:
    if until is not None and until.tzinfo is None:
        raise ValueError(f"until {until} must be time-zone aware")
    return until


def checked_batch_rows(batch_rows: int) -> int:
    if batch_rows < 1:
        raise ValueError(f"batch_rows must be at least 1, not {batch_rows}")
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
    # Written where the view reads: a directory that is a link out of the data root is refused.
    real_matches(_source_field(view), directory, view.data_root)
    key_types = _check_columns(view, rows.schema, "rows to append")
    _check_no_nulls(view, rows, "rows to append")
    canonical = pa.table(
        {key: rows[key].cast(t) for key, t in zip(view.join_keys, key_types, strict=True)}
        | {
            column: pc.cast(rows[column], UTC_MICROS, safe=False)
            for column in timestamp_columns(view)
        }
        | {f.name: rows[f.name].cast(ARROW_TYPES[f.dtype]) for f in view.features}
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


def timestamp_columns(view: ViewDefinition) -> list[str]:
    created = view.created_timestamp_field
    return [view.timestamp_field, *([created] if created else [])]


def _declared_column(schema: pa.Schema, column: str, where: str) -> pa.DataType:
    if schema.get_field_index(column) < 0:
        raise SourceDataError(f"{where}: the declared column {column!r} is missing")
    return schema.field(column).type


_NO_NULLS = "join keys and timestamps may not be null"


def _must_not_be_null(view: ViewDefinition) -> list[str]:
    return [*view.join_keys, *timestamp_columns(view)]


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
