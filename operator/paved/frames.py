"""The SDK's one conversion at its boundary: entity rows in, features out, in the caller's library.

Entity rows come as a pandas or Polars DataFrame, a pyarrow Table or RecordBatch, or a list of
dicts, and become one Arrow table before anything else sees them: the engines speak Arrow only.
pandas and Polars are never imported here unless the caller passed one of their frames (or asks
for one back), so a caller without them pays nothing for them. Numeric and timestamp columns
cross without a copy where the library allows it (pandas' numpy columns without nulls, Polars'
Arrow buffers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from paved.ports.online import OnlineFeatures

if TYPE_CHECKING:
    import pandas as pd

ACCEPTED = "a pandas or Polars DataFrame, a pyarrow Table or RecordBatch, or a list of dicts"


def entity_table(rows: object, what: str = "entity rows") -> pa.Table:
    """`rows` as one Arrow table; TypeError naming what is accepted for anything else."""
    match rows:
        case pa.Table():
            return rows
        case pa.RecordBatch():
            return pa.Table.from_batches([rows])
        case str():
            raise TypeError(
                f"{what} must be {ACCEPTED}, not a string (a SQL query as Feast's entity_df"
                " takes is not supported: run it and pass its result)"
            )
        case list() | tuple():
            return _from_dicts(rows, what)
    match _library(rows):
        case ("pandas", "DataFrame"):
            return _from_pandas(rows)
        case ("polars", "DataFrame"):
            return rows.to_arrow()  # type: ignore[attr-defined]
        case ("polars", "LazyFrame"):
            return rows.collect().to_arrow()  # type: ignore[attr-defined]
    raise TypeError(f"{what} must be {ACCEPTED}, not {_type_name(rows)}")


def _library(rows: object) -> tuple[str, str]:
    """The top-level package and the class name of `rows`'s type, without importing anything."""
    kind = type(rows)
    return kind.__module__.partition(".")[0], kind.__name__


def _type_name(value: object) -> str:
    kind = type(value)
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _from_dicts(rows: Sequence[object], what: str) -> pa.Table:
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise TypeError(
                f"{what} must be {ACCEPTED}; item {index} of the {_type_name(rows)} is"
                f" {_type_name(row)}, not a dict"
            )
    if not rows:
        raise ValueError(f"{what}: an empty {_type_name(rows)} has no columns to join on")
    try:
        return pa.Table.from_pylist(list(rows))
    except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
        raise ValueError(f"{what}: the dicts' values do not make columns: {error}") from error


def _from_pandas(frame: Any) -> pa.Table:
    import pandas as pd  # the caller's frame is pandas': it is loaded already

    # A named index (set_index("user_id")) holds columns the join may need; an unnamed one
    # holds row labels only, which the join does not read (nor does Feast's).
    if any(name is not None for name in frame.index.names):
        frame = frame.reset_index()
    zoned = [name for name, dtype in frame.dtypes.items() if isinstance(dtype, pd.DatetimeTZDtype)]
    if zoned:
        # pyarrow reads a zoned column through `Series.values`, which pandas 3.1 deprecates
        # (a warning on every call): hand those columns over as Arrow arrays in UTC instead.
        frame = frame.copy(deep=False)
        for name in zoned:
            column = frame[name]
            naive = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
            arrow = pa.array(naive, pa.timestamp(column.dtype.unit, tz="UTC"))
            frame[name] = pd.arrays.ArrowExtensionArray(arrow)
    # Without pandas' metadata, `to_pandas` gives each column its plain type back (not the
    # Arrow dtype the zoned columns crossed in) and a fresh index.
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


@dataclass(frozen=True)
class HistoricalFeatures:
    """A point-in-time join's result (Feast's RetrievalJob): the entity rows as they came, then
    the features, each typed as its FeatureView declares; in whichever library the caller wants."""

    table: pa.Table

    @property
    def num_rows(self) -> int:
        rows: int = self.table.num_rows
        return rows

    @property
    def column_names(self) -> list[str]:
        return list(self.table.column_names)

    def to_arrow(self) -> pa.Table:
        return self.table

    def to_pandas(self) -> pd.DataFrame:
        """A pandas DataFrame: float32 features stay float32; as in Feast, an integer column
        with nulls becomes float64 (NaN)."""
        # One block per column: no consolidation copy, and numeric columns without nulls are
        # handed over as Arrow holds them.
        return self.table.to_pandas(split_blocks=True)

    def to_df(self) -> pd.DataFrame:
        """Feast's name for `to_pandas`."""
        return self.to_pandas()

    def to_polars(self) -> Any:
        import polars  # only for a caller who asks for Polars

        return polars.from_arrow(self.table)


def online_entity_rows(rows: object) -> Sequence[Mapping[str, Any]]:
    """Entity rows for an online read: a list of dicts as they are (Feast's `entity_rows`), a
    dict of columns (Feast's other form), or any table `entity_table` takes."""
    if isinstance(rows, list | tuple) and all(isinstance(row, Mapping) for row in rows):
        return rows
    if isinstance(rows, Mapping):
        columns = {name: list(values) for name, values in rows.items()}
        lengths = {len(values) for values in columns.values()}
        if len(lengths) > 1:
            raise ValueError(f"entity_rows: columns of different lengths {sorted(lengths)}")
        return [
            dict(zip(columns, values, strict=True))
            for values in zip(*columns.values(), strict=True)
        ]
    rows_as_dicts: list[Mapping[str, Any]] = entity_table(rows, "entity_rows").to_pylist()
    return rows_as_dicts


@dataclass(frozen=True)
class OnlineResponse(OnlineFeatures):
    """An online read's result (Feast's OnlineResponse): columnar as the store read it, plus
    `.to_dict()`, `.to_df()` and `.to_arrow()` with the entity rows' join keys first, then one
    column per feature (`feature`, or `view__feature` with `full_feature_names`)."""

    entity_rows: Sequence[Mapping[str, Any]] = ()
    join_keys: tuple[str, ...] = ()
    full_feature_names: bool = False

    def to_dict(self) -> dict[str, list[Any]]:
        columns: dict[str, list[Any]] = {
            key: [row.get(key) for row in self.entity_rows] for key in self.join_keys
        }
        for index, column in enumerate(self.columns):
            name = column if self.full_feature_names else column.split("__", 1)[1]
            columns[name] = [values[index] for values in self.values]
        return columns

    def to_arrow(self) -> pa.Table:
        return pa.table(self.to_dict())

    def to_pandas(self) -> pd.DataFrame:
        return self.to_arrow().to_pandas()

    def to_df(self) -> pd.DataFrame:
        """Feast's name for `to_pandas`."""
        return self.to_pandas()
