"""A Feast user's notebook runs unchanged apart from the import and the store's construction:
Feast's quickstart, cell by cell (a pandas entity frame, `get_historical_features(...).to_df()`,
`materialize_incremental`, `get_online_features(features=..., entity_rows=...).to_dict()`), on
Feast's own example data (float32 rates, int64 trips), against DuckDB and the platform's Redis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from paved.settings import OperatorSettings
from paved_local.platform import Endpoints

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
DRIVERS = [1001, 1002, 1003, 1004, 1005]


def _feast_repository(root: Path) -> Path:
    """Feast's `driver_stats.parquet` (hourly rows per driver) and its FeatureView as a manifest."""
    hours = [NOW - timedelta(hours=h) for h in range(48, -1, -1)]
    rows = [(driver, hour) for driver in DRIVERS for hour in hours]
    seed = np.random.default_rng(7)
    stats = pa.table(
        {
            "driver_id": pa.array([d for d, _ in rows], pa.int64()),
            "event_timestamp": pa.array([h for _, h in rows], pa.timestamp("us", tz="UTC")),
            "created": pa.array([h for _, h in rows], pa.timestamp("us", tz="UTC")),
            "conv_rate": pa.array(seed.random(len(rows)), pa.float32()),
            "acc_rate": pa.array(seed.random(len(rows)), pa.float32()),
            "avg_daily_trips": pa.array(seed.integers(0, 1000, len(rows)), pa.int64()),
        }
    )
    (root / "feast" / "data").mkdir(parents=True)
    pq.write_table(stats, root / "feast" / "data" / "driver_stats.parquet")
    view = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "FeatureView",
        "metadata": {"name": "driver_hourly_stats", "namespace": "feast"},
        "spec": {
            "entity": {"name": "driver", "joinKeys": ["driver_id"]},
            "source": {
                "path": "data/driver_stats.parquet",
                "timestampField": "event_timestamp",
                "createdTimestampField": "created",
            },
            "ttl": "1d",
            "features": [
                {"name": "conv_rate", "dtype": "float32"},
                {"name": "acc_rate", "dtype": "float32"},
                {"name": "avg_daily_trips", "dtype": "int64"},
            ],
        },
    }
    manifest = root / "feature_repo.yaml"
    manifest.write_text(yaml.safe_dump(view))
    return manifest


@pytest.fixture
def notebook_globals(tmp_path: Path, endpoints: Endpoints) -> dict[str, object]:
    manifest = _feast_repository(tmp_path)
    settings = OperatorSettings(data_root=str(tmp_path), redis_url=endpoints.redis)
    # The two lines that differ from Feast's notebook:
    #   from feast import FeatureStore
    #   store = FeatureStore(repo_path=".")
    from paved.features import FeatureStore

    store = FeatureStore.from_manifests([manifest], settings, namespace="feast")
    return {"store": store, "NOW": NOW, "run": uuid.uuid4().hex}


# Feast's quickstart cells, verbatim but for timestamps with a zone (paved refuses naive ones).
NOTEBOOK = """
from datetime import datetime, timedelta, timezone

import pandas as pd

entity_df = pd.DataFrame.from_dict(
    {
        "driver_id": [1001, 1002, 1003],
        "event_timestamp": [
            NOW - timedelta(hours=30, minutes=17),
            NOW - timedelta(hours=20, minutes=1),
            NOW - timedelta(hours=2, minutes=30),
        ],
        "label_driver_reported_satisfaction": [1, 5, 3],
        "val_to_add": [1, 2, 3],
        "val_to_add_2": [10, 20, 30],
    }
)

training_df = store.get_historical_features(
    entity_df=entity_df,
    features=[
        "driver_hourly_stats:conv_rate",
        "driver_hourly_stats:acc_rate",
        "driver_hourly_stats:avg_daily_trips",
    ],
).to_df()

print("----- Feature schema -----\\n")
print(training_df.info())
print(training_df.head())

store.materialize_incremental(end_date=datetime.now(timezone.utc))

feature_vector = store.get_online_features(
    features=[
        "driver_hourly_stats:acc_rate",
        "driver_hourly_stats:conv_rate",
        "driver_hourly_stats:avg_daily_trips",
    ],
    entity_rows=[
        {"driver_id": 1004},
        {"driver_id": 1005},
    ],
).to_dict()
print(feature_vector)
"""


def test_feasts_quickstart_notebook_runs_and_answers_as_feast_would(
    notebook_globals: dict[str, object],
) -> None:
    exec(compile(NOTEBOOK, "feast-quickstart", "exec"), notebook_globals)

    training = notebook_globals["training_df"]
    assert isinstance(training, pd.DataFrame)
    assert list(training.columns)[-3:] == ["conv_rate", "acc_rate", "avg_daily_trips"]
    assert training["conv_rate"].dtype == np.float32
    assert training["avg_daily_trips"].notna().all()
    online = notebook_globals["feature_vector"]
    assert isinstance(online, dict)
    assert list(online) == ["driver_id", "acc_rate", "conv_rate", "avg_daily_trips"]
    assert online["driver_id"] == [1004, 1005]
    assert all(value is not None for value in online["conv_rate"])
