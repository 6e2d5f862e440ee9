"""The SDK's boundary conversion: numeric columns of a pandas frame cross without a copy, and the
result comes back to pandas with the column types a pandas user expects."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa

from paved.frames import HistoricalFeatures, entity_table

AT = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def test_a_pandas_float_column_crosses_without_a_copy() -> None:
    frame = pd.DataFrame({"user_id": np.arange(1000), "weight": np.linspace(0, 1, 1000)})
    table = entity_table(frame)
    assert np.shares_memory(table.column("weight").chunk(0).to_numpy(), frame["weight"].to_numpy())


def test_zoned_timestamps_come_back_to_pandas_as_utc_datetimes() -> None:
    frame = pd.DataFrame({"user_id": [1, 2], "event_timestamp": [AT, AT]})
    table = entity_table(frame)
    assert table.schema.field("event_timestamp").type == pa.timestamp("us", tz="UTC")
    back = HistoricalFeatures(table).to_df()
    assert str(back["event_timestamp"].dtype) == "datetime64[us, UTC]"
    assert back["event_timestamp"].tolist() == [AT, AT]


def test_a_float32_column_stays_float32_in_pandas() -> None:
    table = pa.table({"user_id": [1], "score": pa.array([0.5], pa.float32())})
    assert HistoricalFeatures(table).to_pandas()["score"].dtype == np.float32
