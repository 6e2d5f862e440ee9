"""A batch prediction's offline side: the entities to score, read with a locked DuckDB, and each
run's Parquet partition, written beside itself and renamed into place whole.

A run's partition is `<name>/run=<as-of>-v<version>/` holding `part-NNNNN.parquet` files and
`_lineage.json` (Arrow's datasets, DuckDB and Spark skip names starting with `_`). It is written
under a hidden temporary name and renamed when the run ends, so a reader never sees half a run,
and a run done again after a crash replaces the earlier attempt instead of adding to it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from paved.adapters.offline.duckdb import locked_connection
from paved.adapters.offline.parquet import data_files, parquet_source, real_matches
from paved.core.feature_views import ViewDefinition
from paved.errors import SourceDataError, SourceUnreadableError

LINEAGE_FILE = "_lineage.json"
_ENTITY_SOURCE_FIELD = "spec.entities.source.path"
_OUTPUT_FIELD = "the predictions' directory"


class ParquetPredictionFiles:
    """`PredictionFiles` on the namespace's data root."""

    def entities(
        self, view: ViewDefinition, source: str | None, as_of: dt.datetime, batch_rows: int
    ) -> Iterator[pa.Table]:
        keys = ", ".join(_quote(k) for k in view.join_keys)
        if source is None:
            files = list(parquet_source(view).files)
            where = f"WHERE {_quote(view.timestamp_field)} <= $as_of"
            params: dict[str, object] = {"files": files, "as_of": as_of}
        else:
            relative = os.path.relpath(source, view.data_root)
            files = data_files(_ENTITY_SOURCE_FIELD, relative, view.data_root)
            if not files:
                raise SourceDataError(f"no Parquet file matches the entity source {source}")
            where, params = "", {"files": files}
        query = f"SELECT DISTINCT {keys} FROM read_parquet($files) {where} ORDER BY {keys}"
        with closing(locked_connection(files)) as connection:
            try:
                reader = connection.sql(query, params=params).to_arrow_reader(batch_rows)
                for batch in reader:
                    for start in range(0, batch.num_rows, batch_rows):
                        yield pa.Table.from_batches([batch.slice(start, batch_rows)])
            except (duckdb.BinderException, duckdb.IOException, duckdb.InvalidInputException) as e:
                raise SourceUnreadableError(f"entities of {view.name}: {e}") from e

    @contextmanager
    def run(self, partition: str, root: str, lineage: Mapping[str, str]) -> Iterator[_RunWriter]:
        parent, name = os.path.split(partition)
        os.makedirs(parent, exist_ok=True)
        # Written where the namespace's data is: a directory linked out of the root is refused.
        real_matches(_OUTPUT_FIELD, parent, root)
        writer = _RunWriter(os.path.join(parent, f".{name}.{uuid.uuid4().hex[:8]}.tmp"))
        os.makedirs(writer.directory)
        try:
            yield writer
            writer.close()
            with open(os.path.join(writer.directory, LINEAGE_FILE), "w") as file:
                json.dump(dict(lineage), file, indent=2, sort_keys=True)
            _replace_directory(writer.directory, partition)
        finally:
            writer.close()
            shutil.rmtree(writer.directory, ignore_errors=True)

    def read(self, partition: str, root: str) -> pa.Table:
        files = data_files(_OUTPUT_FIELD, os.path.relpath(partition, root), root)
        if not files:
            raise SourceDataError(f"the run's predictions at {partition} are gone")
        return pa.concat_tables(pq.read_table(file) for file in files)


@dataclass
class _RunWriter:
    directory: str
    _files: int = 0
    _writer: pq.ParquetWriter | None = field(default=None, repr=False)

    def write(self, rows: pa.Table) -> None:
        if self._writer is None:
            path = os.path.join(self.directory, f"part-{self._files:05d}.parquet")
            self._writer = pq.ParquetWriter(path, rows.schema)
            self._files += 1
        self._writer.write_table(rows)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _replace_directory(written: str, partition: str) -> None:
    """Put `written` at `partition`; an earlier attempt there is moved aside first, then removed,
    so the partition is always one whole attempt."""
    if os.path.exists(partition):
        parent, name = os.path.split(partition)
        aside = os.path.join(parent, f".{name}.{uuid.uuid4().hex[:8]}.old")
        os.replace(partition, aside)
        os.replace(written, partition)
        shutil.rmtree(aside, ignore_errors=True)
        return
    os.replace(written, partition)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
