"""The created-time cutoff per view: on by default (a backfill written after the entity time does
not leak into training), off by `spec.pointInTime.createdCutoff: false` (event time alone, as
Feast joins), and a call's `created_cutoff` overrides both. The example of docs/point-in-time.md."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paved.api.feature_view import FeatureViewSpec
from paved.features import FeatureStore
from paved.settings import OperatorSettings
from paved_local.platform import Endpoints

DAY = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
UTC = pa.timestamp("us", tz="UTC")


def at(hour: int) -> dt.datetime:
    return DAY + dt.timedelta(hours=hour)


def _store(root: Path, redis_url: str, *, cutoff: bool | None) -> FeatureStore:
    spec: dict[str, object] = {
        "entity": {"name": "account", "joinKeys": ["account_id"]},
        "source": {
            "path": "balances/*.parquet",
            "timestampField": "ts",
            "createdTimestampField": "created",
        },
        "features": [{"name": "balance", "dtype": "float64"}],
    }
    if cutoff is not None:
        spec["pointInTime"] = {"createdCutoff": cutoff}
    settings = OperatorSettings(data_root=str(root), redis_url=redis_url)
    name = f"balances-{uuid.uuid4().hex[:6]}"
    return FeatureStore.from_specs(
        {name: FeatureViewSpec.model_validate(spec)}, settings, namespace="test"
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """08:00 the balance is 100, written at once; at 14:00 a backfill corrects 10:00's balance
    to 5 (a chargeback found later). The model is trained on the 12:00 decision."""
    directory = tmp_path / "test" / "balances"
    directory.mkdir(parents=True)
    rows = pa.table(
        {
            "account_id": pa.array([7, 7], pa.int64()),
            "ts": pa.array([at(8), at(10)], UTC),
            "created": pa.array([at(8), at(14)], UTC),
            "balance": [100.0, 5.0],
        }
    )
    pq.write_table(rows, directory / "part-0.parquet")
    return tmp_path


def _balance_at_noon(store: FeatureStore, **options: bool) -> float:
    (name,) = store.view_names
    decision = [{"account_id": 7, "event_timestamp": at(12)}]
    joined = store.get_historical_features(decision, [f"{name}:balance"], **options)
    balance: float = joined.to_arrow().column("balance")[0].as_py()
    return balance


def test_by_default_a_backfill_written_after_the_decision_does_not_leak(
    root: Path, endpoints: Endpoints
) -> None:
    # At noon the online store served 100: the 5 was written at 14:00.
    assert _balance_at_noon(_store(root, endpoints.redis, cutoff=None)) == 100.0


def test_a_view_may_turn_the_cutoff_off_and_then_joins_as_feast_does(
    root: Path, endpoints: Endpoints
) -> None:
    assert _balance_at_noon(_store(root, endpoints.redis, cutoff=False)) == 5.0


def test_a_calls_created_cutoff_overrides_the_views(root: Path, endpoints: Endpoints) -> None:
    off = _store(root, endpoints.redis, cutoff=False)
    on = _store(root, endpoints.redis, cutoff=True)
    assert _balance_at_noon(off, created_cutoff=True) == 100.0
    assert _balance_at_noon(on, created_cutoff=False) == 5.0
