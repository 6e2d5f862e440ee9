"""A hybrid's training set: a BatchPrediction's predictions read as features, point-in-time
against the history of what was served, and the lineage naming the models that produced them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paved.api.batch_prediction import BatchPredictionSpec
from paved.core.batch_predictions import prediction_view_spec
from paved_pipelines.request import TrainingRequest
from paved_pipelines.steps import build_training_set, data_lineage
from tests.support.training import NAMESPACE

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
USERS = 10
STAMP = pa.timestamp("us", tz="UTC")


def _hours(hours: int) -> dt.timedelta:
    return dt.timedelta(hours=hours)


def _served(root: Path, run: str, *, version: str, score: float, served_at: dt.datetime) -> None:
    """One run in the served history: every user scored `score` as of T0 by `version`."""
    folder = root / NAMESPACE / "predictions" / "nightly" / run
    folder.mkdir(parents=True)
    rows = {
        "user_id": pa.array(range(USERS), pa.int64()),
        "as_of": pa.array([T0] * USERS, STAMP),
        "score": pa.array([score] * USERS, pa.float64()),
        "model_version": pa.array([f"{NAMESPACE}.churn/{version}"] * USERS),
        "served_at": pa.array([served_at] * USERS, STAMP),
    }
    pq.write_table(pa.table(rows), folder / "part-00000.parquet")


def _request(root: Path, *label_times: dt.datetime) -> TrainingRequest:
    times = [t for t in label_times for _ in range(USERS)]
    labels = {
        "user_id": pa.array(list(range(USERS)) * len(label_times), pa.int64()),
        "at": pa.array(times, STAMP),
        "offer_taken": pa.array([u % 2 for u in range(USERS)] * len(label_times), pa.int64()),
    }
    pq.write_table(pa.table(labels), root / NAMESPACE / "offer_labels.parquet")
    nightly = BatchPredictionSpec.model_validate(
        {
            "model": {"name": "churn"},
            "entities": {"featureView": "users"},
            "trigger": {"schedule": "0 2 * * *"},
        }
    )
    history = prediction_view_spec("nightly", nightly, join_keys=["user_id"])
    return TrainingRequest.model_validate(
        {
            "run_key": "k",
            "model": f"{NAMESPACE}.next-best-offer",
            "namespace": NAMESPACE,
            "model_version": "offer-v1",
            "feature_views": {"nightly": history.model_dump(by_alias=True, mode="json")},
            "batch_predictions": {"nightly": "v-served"},
            "features": [{"featureView": "nightly", "names": ["score"]}],
            "labels": {
                "path": "offer_labels.parquet",
                "entityColumns": ["user_id"],
                "timestampColumn": "at",
                "label": "offer_taken",
            },
            "data_root": str(root),
        }
    )


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """v1 scored every user as of T0 and was served from T0 + 1 h; v2, shadowed as of the same
    T0, was accepted and served from T0 + 5 h."""
    _served(tmp_path, "run=20261101T000000Z-v1", version="1", score=0.2, served_at=T0 + _hours(1))
    _served(tmp_path, "run=20261101T000000Z-v2", version="2", score=0.7, served_at=T0 + _hours(5))
    return tmp_path


def test_each_label_reads_the_score_served_at_its_time(root: Path) -> None:
    request = _request(root, T0 + _hours(2), T0 + _hours(6))

    joined = build_training_set(request)

    assert joined["score"].to_pylist() == [0.2] * USERS + [0.7] * USERS
    lineage = data_lineage(request, joined)
    assert lineage["upstreamModels"] == {
        "nightly": [f"{NAMESPACE}.churn/1", f"{NAMESPACE}.churn/2"]
    }
    # The view version serving reads now (the served predictions' online keys).
    assert lineage["featureViews"] == {"nightly": "v-served"}


def test_the_lineage_names_only_the_models_whose_scores_were_read(root: Path) -> None:
    request = _request(root, T0 + _hours(2), T0 + _hours(3))

    joined = build_training_set(request)

    assert data_lineage(request, joined)["upstreamModels"] == {"nightly": [f"{NAMESPACE}.churn/1"]}


def test_a_score_served_after_the_label_is_not_read(root: Path) -> None:
    """The upstream model may have learnt from this very label: its later score would leak."""
    request = _request(root, T0 + _hours(2), T0 + dt.timedelta(minutes=30))

    joined = build_training_set(request)

    assert joined["score"].to_pylist() == [0.2] * USERS + [None] * USERS
