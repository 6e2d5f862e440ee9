"""What a write accepts: the join keys, the event time in epoch µs, each feature as declared.

Rows that do not fit raise `SourceDataError` naming the view, the column and why, before anything
is written.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from paved.adapters.online.redis.codec import LAST_MICROSECOND
from paved.core.feature_views import ViewDefinition
from paved.errors import SourceDataError
from paved.ports.columns import ARROW_TYPES

_KEY_TYPES: Final = (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string)


def checked_columns(view: ViewDefinition, table: pa.Table) -> pa.Table:
    """The join keys, the event time in epoch microseconds, then each feature as declared."""
    absent = [
        name
        for name in (*view.join_keys, view.timestamp_field, *view.feature_names)
        if name not in table.column_names
    ]
    if absent:
        raise SourceDataError(f"FeatureView {view.name}: rows lack column(s) {', '.join(absent)}")
    columns = [_join_key_column(view, name, table.column(name)) for name in view.join_keys]
    columns.append(_event_micros(view, table.column(view.timestamp_field)))
    for feature in view.features:
        try:
            columns.append(table.column(feature.name).cast(ARROW_TYPES[feature.dtype]))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise SourceDataError(
                f"FeatureView {view.name}: column {feature.name} is not {feature.dtype}: {error}"
            ) from error
    names = [*view.join_keys, view.timestamp_field, *view.feature_names]
    return pa.table(columns, names=names)


def _join_key_column(view: ViewDefinition, name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if not (any(is_kind(kind) for is_kind in _KEY_TYPES)):
        raise SourceDataError(
            f"FeatureView {view.name}: join key {name} is {kind}; it must be an integer or a string"
        )
    if column.null_count:
        raise SourceDataError(f"FeatureView {view.name}: join key {name} has null values")
    return column


def _event_micros(view: ViewDefinition, column: pa.ChunkedArray) -> pa.ChunkedArray:
    field = view.timestamp_field
    if not pa.types.is_timestamp(column.type) or column.type.tz is None:
        raise SourceDataError(
            f"FeatureView {view.name}: {field} is {column.type}; it must be a timestamp with a "
            "time zone"
        )
    if column.null_count:
        raise SourceDataError(f"FeatureView {view.name}: {field} has null values")
    options = pc.CastOptions(pa.timestamp("us", column.type.tz), allow_time_truncate=True)
    micros = pc.cast(column, options=options).cast(pa.int64())
    bounds = pc.min_max(micros).as_py()
    if len(micros) and not (bounds["min"] >= 0 and bounds["max"] <= LAST_MICROSECOND):
        raise SourceDataError(
            f"FeatureView {view.name}: {field} has events outside 1970 to 2286, which the online "
            "store cannot order"
        )
    return micros
