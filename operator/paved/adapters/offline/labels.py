"""Labels for a ModelMonitor: a ModelVersion's labels as entity rows (the rows its training set
joined features to, for the reference histograms), and a performance check's label source as
outcomes by entity and time."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from paved.adapters.offline.parquet import data_files
from paved.api.model_version import Labels
from paved.core.data_paths import namespace_root
from paved.core.prediction_log import Outcome, labels_as_outcomes
from paved.errors import SourceDataError
from paved.ports.monitoring import MonitorReadError


class ParquetLabels:
    """`LabelRows` over Parquet under each namespace's data root."""

    def __init__(self, data_root: str) -> None:
        self._root = data_root

    def entity_rows(self, namespace: str, labels: Labels) -> pa.Table:
        columns = [*labels.entity_columns, labels.timestamp_column]
        return self._read("spec.labels.path", namespace, labels, columns)

    def outcomes(self, namespace: str, labels: Labels) -> list[Outcome]:
        columns = [*labels.entity_columns, labels.timestamp_column, labels.label]
        table = self._read("spec.performance.labels.path", namespace, labels, columns)
        try:
            return labels_as_outcomes(
                table.to_pylist(),
                entity_columns=labels.entity_columns,
                timestamp_column=labels.timestamp_column,
                label=labels.label,
            )
        except (TypeError, ValueError, AttributeError) as error:
            # A label that is no number, a timestamp that is no time: the file, not the code.
            raise MonitorReadError(f"labels at {labels.path}: {error}") from error

    def write(self, namespace: str, path: str, rows: Sequence[Mapping[str, object]]) -> None:
        root = Path(namespace_root(self._root, namespace))
        target = root / path
        # Written beside its name, then renamed: a reader (a training run) sees all or nothing.
        temporary = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(pa.Table.from_pylist(list(rows)), temporary)
            temporary.replace(target)
        except (OSError, pa.ArrowException) as error:
            raise MonitorReadError(f"labels at {path}: {error}") from error
        finally:
            temporary.unlink(missing_ok=True)

    def _read(self, field: str, namespace: str, labels: Labels, columns: list[str]) -> pa.Table:
        root = str(namespace_root(self._root, namespace))
        try:
            files = data_files(field, labels.path, root)
            if not files:
                raise MonitorReadError(f"labels at {labels.path}: no such file")
            return ds.dataset(files, format="parquet").to_table(columns=columns)
        except (OSError, KeyError, pa.ArrowException, SourceDataError) as error:
            raise MonitorReadError(f"labels at {labels.path}: {error}") from error
