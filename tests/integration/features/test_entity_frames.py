"""Entity rows as pandas, Arrow, Polars or a list of dicts give one join; the result comes back in
whichever library the caller asks for, typed as declared; anything else is refused, naming what
is accepted."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from paved.features import FeatureStore
from paved_local.platform import Endpoints
from tests.support.feature_store import one_view_store

NOW = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
UTC = pa.timestamp("us", tz="UTC")


@pytest.fixture
def store(tmp_path: Path, endpoints: Endpoints) -> FeatureStore:
    source = pa.table(
        {
            "user_id": pa.array([1, 1, 2], pa.int64()),
            "ts": pa.array([NOW - dt.timedelta(days=2), NOW - dt.timedelta(hours=1), NOW], UTC),
            "score": pa.array([0.5, 0.75, 2.0], pa.float64()),
            "clicks": pa.array([3, 4, 9], pa.int64()),
        }
    )
    features = [{"name": "score", "dtype": "float64"}, {"name": "clicks", "dtype": "int64"}]
    return one_view_store(
        tmp_path, endpoints.redis, keys=["user_id"], features=features, source=source, ttl="7d"
    )


def _refs(store: FeatureStore) -> list[str]:
    (name,) = store.view_names
    return [f"{name}:score", f"{name}:clicks"]


ENTITY_ROWS = [
    {"user_id": 1, "event_timestamp": NOW - dt.timedelta(days=1)},  # the older row
    {"user_id": 1, "event_timestamp": NOW},  # the newer row
    {"user_id": 3, "event_timestamp": NOW},  # no row at all
]


def test_a_pandas_frame_goes_in_and_comes_back_out_with_the_features(store: FeatureStore) -> None:
    entity_df = pd.DataFrame(ENTITY_ROWS)
    training = store.get_historical_features(entity_df, _refs(store)).to_df()

    assert isinstance(training, pd.DataFrame)
    assert list(training.columns) == ["user_id", "event_timestamp", "score", "clicks"]
    assert training["score"].tolist()[:2] == [0.5, 0.75]
    assert pd.isna(training["score"][2])
    assert training["user_id"].tolist() == [1, 1, 3]


def test_pandas_arrow_and_a_list_of_dicts_give_the_same_join(store: FeatureStore) -> None:
    refs = _refs(store)
    from_arrow = store.get_historical_features(pa.Table.from_pylist(ENTITY_ROWS), refs)
    from_dicts = store.get_historical_features(ENTITY_ROWS, refs)
    from_pandas = store.get_historical_features(pd.DataFrame(ENTITY_ROWS), refs)

    assert from_dicts.to_arrow().equals(from_arrow.to_arrow())
    assert (
        from_pandas.to_arrow()
        .drop_columns(["event_timestamp"])
        .equals(from_arrow.to_arrow().drop_columns(["event_timestamp"]))
    )
    pd.testing.assert_frame_equal(
        from_pandas.to_pandas(),
        pd.DataFrame(ENTITY_ROWS).assign(score=[0.5, 0.75, None], clicks=[3.0, 4.0, None]),
        check_dtype=False,
    )


def test_a_named_pandas_index_is_read_as_the_column_it_names(store: FeatureStore) -> None:
    entity_df = pd.DataFrame(ENTITY_ROWS).set_index("user_id")
    joined = store.get_historical_features(entity_df, _refs(store)).to_arrow()
    assert joined.column("score").to_pylist()[:2] == [0.5, 0.75]


def test_a_polars_frame_goes_in_and_comes_back_out(store: FeatureStore) -> None:
    polars = pytest.importorskip("polars")
    joined = store.get_historical_features(polars.DataFrame(ENTITY_ROWS), _refs(store))
    assert joined.to_polars()["score"].to_list()[:2] == [0.5, 0.75]


@pytest.mark.parametrize(
    ("entity_df", "named"),
    [
        ({"user_id": [1], "event_timestamp": [NOW]}, "not dict"),
        ("SELECT user_id FROM users", "SQL query"),
        ([("user_id", 1)], "item 0 of the list is tuple"),
    ],
)
def test_anything_else_is_refused_naming_what_is_accepted(
    store: FeatureStore, entity_df: object, named: str
) -> None:
    with pytest.raises(TypeError, match="pandas or Polars DataFrame, a pyarrow Table") as refused:
        store.get_historical_features(entity_df, _refs(store))
    assert named in str(refused.value)
