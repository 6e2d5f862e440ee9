"""A ModelVersion's labels as entity rows: the rows its training set joined features to, for
the monitor's reference histograms (read through the offline engine's point-in-time join)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.dataset as ds

from paved.adapters.offline.parquet import data_files
from paved.api.model_version import Labels
from paved.core.data_paths import namespace_root
from paved.errors import SourceDataError
from paved.ports.monitoring import MonitorReadError


class ParquetLabels:
    """`LabelRows` over Parquet under each namespace's data root."""

    def __init__(self, data_root: str) -> None:
        self._root = data_root

    def entity_rows(self, namespace: str, labels: Labels) -> pa.Table:
        root = str(namespace_root(self._root, namespace))
        try:
            files = data_files("spec.labels.path", labels.path, root)
            if not files:
                raise MonitorReadError(f"labels at {labels.path}: no such file")
            table = ds.dataset(files, format="parquet").to_table()
            return table.select([*labels.entity_columns, labels.timestamp_column])
        except (OSError, KeyError, pa.ArrowException, SourceDataError) as error:
            raise MonitorReadError(f"labels at {labels.path}: {error}") from error
