"""Entity keys are plain ints or strs of the source's type: numpy's scalars become them, anything
else is refused naming the entity and the type its key must have."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from paved.api.feature_view import DataType
from paved.core.entity_keys import KeyType, normalised_rows
from paved.core.feature_views import FeatureDefinition, ViewDefinition

VIEW = ViewDefinition(
    namespace="test",
    name="trips",
    version="0123456789ab",
    join_keys=("driver_id", "city"),
    source="/data/test/trips/*.parquet",
    data_root="/data/test",
    timestamp_field="ts",
    created_timestamp_field=None,
    ttl=dt.timedelta(days=1),
    features=(FeatureDefinition("trips", DataType.INT64),),
    entity="driver",
)
TYPES = {("trips", "driver_id"): KeyType.INTEGER, ("trips", "city"): KeyType.STRING}


def test_numpy_scalars_become_plain_values_and_plain_rows_pass_as_they_are() -> None:
    plain = {"driver_id": 7, "city": "Oslo"}
    rows = normalised_rows(
        [plain, {"driver_id": np.int64(8), "city": np.str_("Bergen")}], [VIEW], TYPES
    )
    assert rows[0] is plain
    assert rows[1] == {"driver_id": 8, "city": "Bergen"}
    assert type(rows[1]["driver_id"]) is int
    assert type(rows[1]["city"]) is str


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            {"driver_id": "7", "city": "Oslo"},
            "'driver_id' of entity 'driver' .* must be an integer, not '7' \\(str\\)",
        ),
        (
            {"driver_id": 7, "city": 3},
            "'city' of entity 'driver' .* must be a string, not 3 \\(int\\)",
        ),
        ({"driver_id": np.bool_(True), "city": "Oslo"}, "must be an integer"),
        ({"driver_id": 7.0, "city": "Oslo"}, "must be an integer, not 7.0 \\(float\\)"),
    ],
)
def test_a_key_of_another_type_is_refused_by_name(row: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        normalised_rows([row], [VIEW], TYPES)


def test_without_known_types_only_ints_and_strings_pass() -> None:
    assert normalised_rows([{"driver_id": "7", "city": 3}], [VIEW], {}) == [
        {"driver_id": "7", "city": 3}
    ]
    with pytest.raises(TypeError, match="must be an integer or a string, not None"):
        normalised_rows([{"driver_id": None, "city": "Oslo"}], [VIEW], {})
    with pytest.raises(KeyError, match="lacks join key 'city'"):
        normalised_rows([{"driver_id": 7}], [VIEW], {})
