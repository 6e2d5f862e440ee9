"""Where a batch prediction's entities come from and its runs' Parquet goes (the offline side)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from typing import Protocol

import pyarrow as pa

from paved.core.feature_views import ViewDefinition


class RunWriter(Protocol):
    def write(self, rows: pa.Table) -> None:
        """Add `rows` to the run's partition (visible only once the run is committed)."""
        ...


class PredictionFiles(Protocol):
    def entities(
        self, view: ViewDefinition, source: str | None, as_of: dt.datetime, batch_rows: int
    ) -> Iterator[pa.Table]:
        """The distinct join keys to score, in key order, in batches: those of `source`'s
        Parquet files (a path or glob under the view's data root) when given, else every
        entity with a row of `view` at or before `as_of`."""
        ...

    def run(
        self, partition: str, root: str, lineage: Mapping[str, str]
    ) -> AbstractContextManager[RunWriter]:
        """A writer for one run's partition (a directory under the namespace's data root
        `root`), committed whole when the block ends without an error (replacing any earlier
        attempt at the same run, with `lineage` beside the files); left out otherwise."""
        ...

    def read(self, partition: str, root: str) -> pa.Table:
        """A committed run's predictions (every column), from its partition under `root`."""
        ...
