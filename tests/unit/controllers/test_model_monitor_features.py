"""The ModelMonitor's feature checks called as kopf calls them, over the real Parquet prediction
log and the real DuckDB engine: an entity the model served on a row the pipeline stopped writing
is counted stale though the view's newest event is fresh, and a feature the model saw that the
offline store gives back differently for the same entity and moment is skew."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from prometheus_client import REGISTRY

from paved.adapters.prediction_log import parquet
from paved.adapters.prediction_log.parquet import ParquetPredictionLog
from paved.api.crds import MODEL_MONITOR
from paved.controllers.model_monitor import watch_model
from paved.core.prediction_log import Prediction
from paved.core.rollout_steps import Traffic
from paved.ports.online import (
    EntityRow,
    OnlineFeatures,
    OnlineRequest,
    OnlineStore,
    ValueStatus,
)
from tests.support.adapter import Event, Kopf, body, recorded_events
from tests.support.scripted_ports import Router, indices, scripted_ports
from tests.support.training import example
from tests.unit.controllers.test_model_monitor_handler import PRODUCTION, ServingRegistry

__all__ = ["recorded_events"]  # the fixture, for pytest

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)
SERVED = NOW - dt.timedelta(minutes=30)
USERS = 200
FEATURES = ("clicks_7d", "sessions_7d", "tenure_days", "country")


def _clicks(user: int) -> float:
    return float(user % 17)


def write_source(data_root: Path) -> None:
    """The view's offline rows: each user's activity two hours before the predictions."""
    folder = data_root / "ml" / "data" / "user_activity"
    folder.mkdir(parents=True)
    at = NOW - dt.timedelta(hours=2)
    table = pa.table(
        {
            "user_id": pa.array(range(USERS), pa.int64()),
            "event_timestamp": pa.array([at] * USERS, pa.timestamp("us", tz="UTC")),
            "created_at": pa.array([at] * USERS, pa.timestamp("us", tz="UTC")),
            "clicks_7d": [_clicks(u) for u in range(USERS)],
            "sessions_7d": pa.array([u % 5 for u in range(USERS)], pa.int64()),
            "tenure_days": pa.array([100 + u for u in range(USERS)], pa.int64()),
            "country": ["DE" if u % 2 else "FR" for u in range(USERS)],
        }
    )
    pq.write_table(table, folder / "part-0.parquet")


def log_predictions(data_root: Path, *, skewed: int, unnamed: int = 0) -> None:
    """v3's predictions of every user half an hour ago, with the features it saw: the first
    `skewed` users saw a clicks_7d the offline store does not hold; and `unnamed` requests that
    named no entity."""
    records: list[parquet.Record] = []
    for n in range(unnamed):
        anonymous = Prediction(f"anon{n}", "{}", SERVED, "3", 0.5)
        records.append(parquet.PredictionRecord("ml", "churn", "main", anonymous, {}))
    for user in range(USERS):
        prediction = Prediction(f"r{user}", f'{{"user_id":{user}}}', SERVED, "3", 0.5)
        seen = {
            "clicks_7d": _clicks(user) + (5.0 if user < skewed else 0.0),
            "sessions_7d": user % 5,
            "tenure_days": 100 + user,
            "country": "DE" if user % 2 else "FR",
        }
        records.append(parquet.PredictionRecord("ml", "churn", "main", prediction, seen))
    parquet.write(str(data_root), records)


class Online:
    """The online store's answer: every user's row written at NOW but for the `old` ones'."""

    def __init__(self, old: int) -> None:
        self.old = old

    def read(
        self, rows: Sequence[EntityRow], requests: Sequence[OnlineRequest], now: dt.datetime
    ) -> OnlineFeatures:
        columns = tuple(f"{r.view.name}__{f}" for r in requests for f in r.features)
        stamps = [
            [now - dt.timedelta(days=3) if row["user_id"] < self.old else now for _ in requests]
            for row in rows
        ]
        return OnlineFeatures(
            columns,
            [[None] * len(columns) for _ in rows],
            [[ValueStatus.PRESENT] * len(columns) for _ in rows],
            stamps,
            tuple(r.view.name for r in requests),
        )


def monitor(tmp_path: Path, events: list[Event], online: OnlineStore) -> Kopf:
    ports = replace(
        scripted_ports(str(tmp_path)),
        online=online,
        registry=ServingRegistry(production=PRODUCTION),
        routers=Router(traffic=Traffic(0, 100)),
        prediction_log=ParquetPredictionLog(str(tmp_path)),
    )
    return Kopf(MODEL_MONITOR, watch_model, ports, events)


SPEC: dict[str, Any] = {
    "model": "churn",
    "target": {"seldonDeployment": {"name": "churn"}},
    "minSamples": 100,
    "freshness": {"maxAge": "1d", "maxStaleFraction": 0.05},
    "skew": {"sample": 100, "maxMismatchRate": 0.05},
}


# The production version's ModelVersion and the view it trained on, as kopf's indices hold them.
TRAINED_ON = (
    ("ModelVersion", "churn-v3", example("02-modelversion.yaml")),
    ("FeatureView", "user-activity-v1", example("01-featureview.yaml")),
)


async def _tick(tmp_path: Path, events: list[Event], *, old: int, skewed: int) -> Any:
    write_source(tmp_path)
    log_predictions(tmp_path, skewed=skewed, unnamed=10)  # those ten are neither looked up
    return await monitor(tmp_path, events, Online(old)).call(
        body(MODEL_MONITOR, SPEC), indices=indices(*TRAINED_ON)
    )


async def test_entities_served_on_rows_no_longer_written_are_stale(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    outcome = await _tick(tmp_path, recorded_events, old=20, skewed=0)

    stale = outcome.condition("FeaturesStale")
    assert (stale["status"], stale["reason"]) == ("True", "FeaturesStale")
    assert stale["message"].startswith(
        "20 of 200 served entities have stale features (20 past a ttl, freshness SLO or maxAge;"
        " 0 with none online): 10.00% > 5.00%"
    )
    assert outcome.condition("Healthy")["status"] == "False"
    labels = {"namespace": "ml", "model_monitor": "subject"}
    assert REGISTRY.get_sample_value("paved_monitor_stale_entities_ratio", labels) == 0.1


async def test_served_values_the_offline_store_gives_back_are_no_skew(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    outcome = await _tick(tmp_path, recorded_events, old=0, skewed=0)

    skew = outcome.condition("FeaturesSkewed")
    assert (skew["status"], skew["reason"]) == ("False", "NoSkew")
    compared = {s["feature"]: s["compared"] for s in outcome.patch["status"]["skew"]}
    assert compared == dict.fromkeys(FEATURES, 100)
    assert outcome.condition("FeaturesStale")["reason"] == "FeaturesFresh"
    assert outcome.condition("Healthy")["status"] == "True"


async def test_a_feature_served_unlike_its_offline_value_is_skew(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    outcome = await _tick(tmp_path, recorded_events, old=0, skewed=40)

    skew = outcome.condition("FeaturesSkewed")
    assert (skew["status"], skew["reason"]) == ("True", "SkewDetected")
    assert skew["message"].startswith(
        "1 of 4 features skewed (100 sampled predictions): clicks_7d differs in 20 of 100"
        " (20.00% > 5.00%)."
    )
    assert '{"user_id":0}' in skew["message"]  # an example of what differed, for a person
    labels = {"namespace": "ml", "model_monitor": "subject", "feature": "clicks_7d"}
    assert REGISTRY.get_sample_value("paved_monitor_skew_mismatch_ratio", labels) == 0.2
    assert Event("Warning", "SkewDetected", skew["message"]) in outcome.events


async def test_features_that_cannot_be_read_make_both_checks_unknown_with_why(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    log_predictions(tmp_path, skewed=0)
    objects = (("ModelVersion", "churn-v3", example("02-modelversion.yaml")),)  # no view
    outcome = await monitor(tmp_path, recorded_events, Online(0)).call(
        body(MODEL_MONITOR, SPEC), indices=indices(*objects)
    )

    for check in ("FeaturesStale", "FeaturesSkewed"):
        condition = outcome.condition(check)
        assert (condition["status"], condition["reason"]) == ("Unknown", "FeaturesUnreadable")
        assert "user-activity-v1" in condition["message"]
