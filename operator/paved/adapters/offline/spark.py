"""SparkEngine: the point-in-time join in Spark, for sources too big to scan on one machine.

A range join on keys and time, then per entity row the latest source row by a window (event,
created, source position): the reference's rule as it is. Files are found and checked by the
shared Parquet contract (`parquet.py`) and must be at the same paths on every executor. Entity
rows go in, and join results come back, through the driver as Arrow (UTC); changed rows stream
back a partition at a time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from itertools import islice

import numpy as np
import pyarrow as pa
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as sf
from pyspark.sql import types as st

from paved.adapters.offline.parquet import (
    ParquetSource,
    append_parquet,
    changed_rows_schema,
    changed_since,
    check_entity_rows,
    checked_batch_rows,
    checked_until,
    numbered_entity_rows,
    parquet_source,
    with_features,
)
from paved.api.feature_view import DataType
from paved.core.feature_views import ViewDefinition
from paved.core.point_in_time import output_feature_names
from paved.errors import SourceDataError
from paved.ports.offline import FeatureRequest, JoinOptions, created_cutoff

_SPARK_TYPES: dict[DataType, st.DataType] = {
    DataType.INT64: st.LongType(),
    DataType.INT32: st.IntegerType(),
    DataType.FLOAT64: st.DoubleType(),
    DataType.FLOAT32: st.FloatType(),
    DataType.STRING: st.StringType(),
    DataType.BOOL: st.BooleanType(),
    DataType.TIMESTAMP: st.TimestampType(),
}
_MICROSECOND = dt.timedelta(microseconds=1)
# Internal columns next to the declared ones; the prefix keeps them apart from user names.
_FILE_INDEX, _FILE_ROW_NUMBER = "__paved_file_index", "__paved_row_number"
_RECENCY = "__paved_recency"


class SparkEngine:
    """OfflineEngine on a caller's SparkSession (local or a cluster that sees the same paths)."""

    def __init__(self, spark: SparkSession) -> None:
        self._spark = spark

    def historical_features(
        self, entity_rows: pa.Table, requests: Sequence[FeatureRequest], options: JoinOptions
    ) -> pa.Table:
        names = output_feature_names(
            [(r.view, r.features) for r in requests],
            options.full_feature_names,
            entity_rows.column_names,
        )
        sources = [_readable_by_spark(parquet_source(r.view)) for r in requests]
        check_entity_rows(entity_rows, sources, options.entity_timestamp_column)
        if not requests:
            return entity_rows
        narrow, keys = numbered_entity_rows(entity_rows, requests, options.entity_timestamp_column)
        entity = self._spark.createDataFrame(narrow)
        features: list[pa.ChunkedArray] = []
        for request, source in zip(requests, sources, strict=True):
            view_keys = [keys[k] for k in request.view.join_keys]
            chosen = self._chosen_rows(
                entity, source, view_keys, request.features, created_cutoff(options, request.view)
            )
            features += _in_entity_order(chosen.toArrow(), entity_rows.num_rows)
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
        checked_batch_rows(batch_rows)
        until = checked_until(until)
        source = _readable_by_spark(parquet_source(view))
        created = view.created_timestamp_field
        rows = self._source_rows(source)
        newer_than = changed_since(view, event_after, created_after)
        if newer_than is not None:
            newer = _micros(view.timestamp_field) > _epoch_micros(newer_than.event)
            if created is not None and newer_than.created is not None:
                newer = newer | (_micros(created) > _epoch_micros(newer_than.created))
            rows = rows.where(newer)
        timestamps = [view.timestamp_field, *([created] if created else [])]
        if until is not None:  # only what existed then: happened and written by `until`
            for column in timestamps:
                rows = rows.where(_micros(column) <= _epoch_micros(until))
        instants = {*timestamps, *(f.name for f in view.features if f.dtype == DataType.TIMESTAMP)}
        latest_first = Window.partitionBy(*view.join_keys).orderBy(
            *(sf.col(f"`{c}`").desc() for c in [*timestamps, _FILE_INDEX, _FILE_ROW_NUMBER])
        )
        latest = rows.withColumn(_RECENCY, sf.row_number().over(latest_first)).where(
            sf.col(_RECENCY) == 1
        )
        schema = changed_rows_schema(source)
        # Timestamps as epoch µs: collected as datetimes, Spark would read them in the
        # driver's local time zone.
        columns = [_micros(c).alias(c) if c in instants else sf.col(f"`{c}`") for c in schema.names]
        # One partition at a time (the next one computed meanwhile), never the whole result:
        # toArrow would hold every changed row in the driver at once.
        collected = latest.select(*columns).toLocalIterator(prefetchPartitions=True)
        while batch := list(islice(collected, batch_rows)):
            yield pa.RecordBatch.from_arrays(
                [
                    pa.array(values, t)
                    for values, t in zip(zip(*batch, strict=True), schema.types, strict=True)
                ],
                schema=schema,
            )

    def append(self, view: ViewDefinition, rows: pa.Table) -> str:
        return append_parquet(view, rows)

    def _source_rows(self, source: ParquetSource) -> DataFrame:
        """The declared columns under their own names, typed as declared, plus the source
        position (file index in path order, row number in the file) that breaks full ties."""
        view = source.view
        timestamps = [view.timestamp_field, *_created(view)]
        schema = st.StructType(
            [
                *(
                    st.StructField(key, st.LongType() if t == pa.int64() else st.StringType())
                    for key, t in zip(view.join_keys, source.key_types, strict=True)
                ),
                *(st.StructField(c, st.TimestampType()) for c in timestamps),
                *(st.StructField(f.name, _SPARK_TYPES[f.dtype]) for f in view.features),
            ]
        )
        paths = [_literal_path(f) for f in source.files]
        rows = self._spark.read.schema(schema).parquet(*paths)
        # Spark names a file by its URI; decode it back to the path to find its index.
        uri = sf.regexp_replace(sf.col("_metadata.file_path"), r"\+", "%2B")
        path = sf.regexp_replace(sf.url_decode(uri), "^file:", "")
        file_index = sf.create_map(
            *(sf.lit(value) for i, file in enumerate(source.files) for value in (file, i))
        )
        return rows.select(
            *schema.fieldNames(),
            file_index[path].cast("long").alias(_FILE_INDEX),
            sf.col("_metadata.row_index").alias(_FILE_ROW_NUMBER),
        )

    def _chosen_rows(
        self,
        entity: DataFrame,
        source: ParquetSource,
        keys: list[str],
        features: Sequence[str],
        created_cutoff: bool,
    ) -> DataFrame:
        """Per entity row that has a match: row_id, then the features as f0, f1, ..."""
        view = source.view
        created = view.created_timestamp_field
        e = entity.alias("e")
        s = self._source_rows(source).alias("s")
        at = sf.col("e.entity_time")
        event = sf.col(f"s.`{view.timestamp_field}`")
        condition = event <= at
        for key, name in zip(keys, view.join_keys, strict=True):
            condition = condition & (sf.col(f"e.{key}") == sf.col(f"s.`{name}`"))
        if view.ttl is not None:
            condition = condition & (
                sf.unix_micros(event) >= sf.unix_micros(at) - view.ttl // _MICROSECOND
            )
        if created is not None and created_cutoff:
            condition = condition & (sf.col(f"s.`{created}`") <= at)
        recency = [event, *(sf.col(f"s.`{c}`") for c in _created(view))]
        latest_first = Window.partitionBy("e.row_id").orderBy(
            *(
                c.desc()
                for c in [*recency, sf.col(f"s.{_FILE_INDEX}"), sf.col(f"s.{_FILE_ROW_NUMBER}")]
            )
        )
        candidates = e.join(s, condition).select(
            sf.col("e.row_id").alias("row_id"),
            sf.row_number().over(latest_first).alias(_RECENCY),
            *(sf.col(f"s.`{f}`").alias(f"f{j}") for j, f in enumerate(features)),
        )
        return candidates.where(sf.col(_RECENCY) == 1).drop(_RECENCY)


def _in_entity_order(chosen: pa.Table, entity_rows: int) -> list[pa.ChunkedArray]:
    """The feature columns of `chosen` (row_id, then features) placed at their entity rows, null
    where a row had no match: the driver puts them in order, so Spark need not sort."""
    place = np.full(entity_rows, -1, dtype=np.int64)
    place[chosen["row_id"].to_numpy()] = np.arange(chosen.num_rows)
    rows = pa.array(place, mask=place < 0)
    return [chosen.column(i).take(rows) for i in range(1, chosen.num_columns)]


def _readable_by_spark(source: ParquetSource) -> ParquetSource:
    """The one rule Spark adds: its Parquet reader refuses nanosecond timestamps."""
    for file, schema in zip(source.files, source.schemas, strict=True):
        for column in [source.view.timestamp_field, *_created(source.view)]:
            if schema.field(column).type.unit == "ns":
                raise SourceDataError(
                    f"{file}: column {column!r} holds nanoseconds, which Spark cannot read;"
                    " write it with microsecond (or millisecond) timestamps"
                )
    return source


def _created(view: ViewDefinition) -> list[str]:
    return [view.created_timestamp_field] if view.created_timestamp_field else []


def _epoch_micros(at: dt.datetime) -> int:
    return (at - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // _MICROSECOND


def _micros(column: str) -> Column:
    return sf.unix_micros(sf.col(f"`{column}`"))


def _literal_path(path: str) -> str:
    """A local file as Spark must name it: on the local file system whatever the cluster's
    default, with its glob characters escaped (Spark reads every path as a glob)."""
    return "file:" + "".join(f"\\{c}" if c in "\\*?[]{}" else c for c in path)
