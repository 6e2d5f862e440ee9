"""A ModelVersion's labels as the monitor reads them: the entity rows its training set joined
features to, only under the namespace's data root, with a clear error otherwise."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paved.adapters.offline.labels import ParquetLabels
from paved.api.model_version import Labels
from paved.core.prediction_log import OutcomeKind
from paved.ports.monitoring import MonitorReadError

LABELS = Labels(
    path="labels/*.parquet", entity_columns=["user_id"], timestamp_column="ts", label="y"
)


def test_the_entity_rows_are_the_labels_keys_and_times(tmp_path: Path) -> None:
    folder = tmp_path / "shop" / "labels"
    folder.mkdir(parents=True)
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    pq.write_table(pa.table({"user_id": [1, 2], "ts": [at, at], "y": [0, 1]}), folder / "a.parquet")

    rows = ParquetLabels(str(tmp_path)).entity_rows("shop", LABELS)

    assert rows.column_names == ["user_id", "ts"]  # never the label itself
    assert rows.num_rows == 2


@pytest.mark.parametrize(
    ("path", "message"),
    [("labels/*.parquet", "no such file"), ("../other/labels.parquet", "labels at ../other")],
)
def test_labels_that_cannot_be_read_say_where(tmp_path: Path, path: str, message: str) -> None:
    (tmp_path / "shop").mkdir()
    with pytest.raises(MonitorReadError, match=message):
        ParquetLabels(str(tmp_path)).entity_rows("shop", LABELS.model_copy(update={"path": path}))


def test_a_label_source_reads_as_outcomes_by_entity_and_time(tmp_path: Path) -> None:
    folder = tmp_path / "shop" / "labels"
    folder.mkdir(parents=True)
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    table = pa.table({"user_id": [1, 2], "ts": [at, at], "y": [0, 1], "note": ["a", "b"]})
    pq.write_table(table, folder / "a.parquet")

    outcomes = ParquetLabels(str(tmp_path)).outcomes("shop", LABELS)

    assert [(o.kind, o.key, o.value, o.event_time) for o in outcomes] == [
        (OutcomeKind.LABEL, '{"user_id":1}', 0.0, at),
        (OutcomeKind.LABEL, '{"user_id":2}', 1.0, at),
    ]


def test_a_label_that_is_no_number_is_a_read_error_naming_the_file(tmp_path: Path) -> None:
    folder = tmp_path / "shop" / "labels"
    folder.mkdir(parents=True)
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    pq.write_table(pa.table({"user_id": [1], "ts": [at], "y": ["yes"]}), folder / "a.parquet")

    with pytest.raises(MonitorReadError, match="labels at labels/"):
        ParquetLabels(str(tmp_path)).outcomes("shop", LABELS)


def test_a_label_that_is_not_finite_is_a_read_error_too(tmp_path: Path) -> None:
    folder = tmp_path / "shop" / "labels"
    folder.mkdir(parents=True)
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    pq.write_table(
        pa.table({"user_id": [1], "ts": [at], "y": [float("nan")]}), folder / "a.parquet"
    )

    with pytest.raises(MonitorReadError, match="is not a finite number"):
        ParquetLabels(str(tmp_path)).outcomes("shop", LABELS)


def test_written_labels_read_back_whole_and_leave_no_partial_file(tmp_path: Path) -> None:
    at = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
    rows = [{"user_id": 1, "ts": at, "y": 1}, {"user_id": 2, "ts": at, "y": 0}]
    store = ParquetLabels(str(tmp_path))

    store.write("shop", "retrained/churn/v.parquet", rows)

    folder = tmp_path / "shop" / "retrained" / "churn"
    assert [p.name for p in folder.iterdir()] == ["v.parquet"]
    written = LABELS.model_copy(update={"path": "retrained/churn/v.parquet"})
    assert [o.value for o in store.outcomes("shop", written)] == [1.0, 0.0]


def test_label_times_without_a_zone_are_utc_and_join_the_log(tmp_path: Path) -> None:
    folder = tmp_path / "shop" / "labels"
    folder.mkdir(parents=True)
    at = dt.datetime(2026, 12, 1, 9, tzinfo=dt.UTC)
    naive = pa.array([at.replace(tzinfo=None)], pa.timestamp("us"))  # a file with no zone
    pq.write_table(pa.table({"user_id": [1], "ts": naive, "y": [1]}), folder / "a.parquet")

    (outcome,) = ParquetLabels(str(tmp_path)).outcomes("shop", LABELS)

    assert outcome.event_time == at
