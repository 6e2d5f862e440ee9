"""The offline store: Parquet files, joined point-in-time correct by an engine (DuckDB, Spark)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa

from paved.core.feature_views import ViewDefinition


@dataclass(frozen=True)
class FeatureRequest:
    """Some features of one view."""

    view: ViewDefinition
    features: tuple[str, ...]


@dataclass(frozen=True)
class JoinOptions:
    entity_timestamp_column: str = "event_timestamp"
    # Count a row only once it was written (created <= entity time): what the online store
    # would have returned then. Off only for parity with tools that do not apply it. None:
    # each view's own setting (`spec.pointInTime.createdCutoff`, on by default).
    created_cutoff: bool | None = None
    # Name columns `view__feature` (required when two views share a feature name).
    full_feature_names: bool = False


def created_cutoff(options: JoinOptions, view: ViewDefinition) -> bool:
    """Whether a join applies the created-time cutoff to `view`: the call's choice, else the
    view's."""
    return view.created_cutoff if options.created_cutoff is None else options.created_cutoff


class OfflineEngine(Protocol):
    def historical_features(
        self, entity_rows: pa.Table, requests: Sequence[FeatureRequest], options: JoinOptions
    ) -> pa.Table:
        """Every entity row, in input order (duplicates kept), plus the point-in-time features.

        For each row and view: the source row with the same join keys and the latest event
        timestamp <= the entity timestamp, no older than the view's ttl (both bounds inclusive),
        and, with `created_cutoff`, created <= the entity timestamp. Ties on event time go to
        the later created timestamp. No match: nulls.
        """
        ...

    def changed_rows(
        self,
        view: ViewDefinition,
        event_after: dt.datetime | None,
        created_after: dt.datetime | None,
        batch_rows: int,
        *,
        until: dt.datetime | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """The latest source row per entity among rows newer than the watermarks, in batches.

        Rows count when their event time is after `event_after` or, for views with a created
        timestamp, their created time is after `created_after` (so late rows are not lost).
        With `until` (a backfill as of then), only rows that existed then count: event time
        and, for views with one, created time at or before it.
        Columns: the join keys, the timestamp field, the created field (if any), the features.
        """
        ...

    def append(self, view: ViewDefinition, rows: pa.Table) -> str:
        """Write `rows` as a new Parquet file matched by the view's source; return its path."""
        ...
