"""The Arrow type of each declared feature dtype: what every port's tables hold a feature as.

One table for the offline engines, the online store and the SDK, so a feature is the same type
in Parquet, in a join's output, in what a write accepts and in a push.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from paved.api.feature_view import DataType

UTC_MICROS: Final = pa.timestamp("us", tz="UTC")
ARROW_TYPES: Final[dict[DataType, pa.DataType]] = {
    DataType.INT64: pa.int64(),
    DataType.INT32: pa.int32(),
    DataType.FLOAT64: pa.float64(),
    DataType.FLOAT32: pa.float32(),
    DataType.STRING: pa.string(),
    DataType.BOOL: pa.bool_(),
    DataType.TIMESTAMP: UTC_MICROS,
}
