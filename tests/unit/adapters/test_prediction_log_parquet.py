"""The prediction log's Parquet: Hive partitions DuckDB reads as columns, and a label source
declared on the model (entity and time) joined to the logged predictions."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from paved.adapters.prediction_log import parquet
from paved.core.prediction_log import (
    LogKind,
    Outcome,
    OutcomeKind,
    Prediction,
    entity_key,
    logged_features,
)

DAY = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


def _logged(tmp_path: Path) -> None:
    records = [
        parquet.PredictionRecord(
            "shop",
            "churn",
            "main",
            Prediction(
                f"r{user}",
                entity_key({"user_id": user}),
                DAY + dt.timedelta(hours=user),
                "3",
                0.1 * user,
            ),
            {"clicks_7d": float(user)},
        )
        for user in range(1, 5)
    ]
    parquet.write(str(tmp_path), records)


@pytest.mark.timeout(60)  # DuckDB's first query loads its extensions: seconds on a busy machine
def test_duckdb_reads_the_partitions_as_model_and_day_columns(tmp_path: Path) -> None:
    _logged(tmp_path)
    pattern = tmp_path / "shop/predictions/*/*/*.parquet"
    rows = duckdb.sql(
        f"select model, day, count(*) from read_parquet('{pattern}', hive_partitioning = true)"
        " group by all"
    ).fetchall()
    assert rows == [("churn", dt.date(2026, 12, 4), 4)]


def test_a_label_source_labels_each_prediction_with_its_entitys_next_label(tmp_path: Path) -> None:
    _logged(tmp_path)
    labels = pa.table(
        {
            "user_id": [1, 2, 2, 3],
            "ts": [
                DAY,  # user 1's label came before the prediction (10:00): not its outcome
                DAY + dt.timedelta(hours=5),
                DAY + dt.timedelta(hours=3),  # user 2's first label after 11:00
                DAY + dt.timedelta(days=3),  # past the horizon
            ],
            "churned": [1, 0, 1, 1],
        }
    )
    outcomes = parquet.label_outcomes(
        labels, entity_columns=["user_id"], timestamp_column="ts", label="churned"
    )
    joined = parquet.joined(
        str(tmp_path),
        "shop",
        "churn",
        days=[DAY.date()],
        as_of=DAY + dt.timedelta(days=5),
        horizon=dt.timedelta(days=1),
        labels=outcomes,
    )
    found = {j.prediction.request_id: j.outcome.value if j.outcome else None for j in joined}
    assert found == {"r1": None, "r2": 1.0, "r3": None, "r4": None}


def test_a_monitors_window_holds_one_versions_inputs_by_feature_and_its_scores(
    tmp_path: Path,
) -> None:
    _logged(tmp_path)  # version 3, users 1..4 at 10:00, 11:00, 12:00, 13:00
    other = parquet.PredictionRecord(
        "shop",
        "churn",
        "candidate",
        Prediction("c1", entity_key({"user_id": 9}), DAY + dt.timedelta(hours=2), "4", 0.9),
        {"clicks_7d": 99.0, "country": "DE"},
    )
    parquet.write(str(tmp_path), [other])
    log = parquet.ParquetPredictionLog(str(tmp_path))

    window = log.window(
        "shop", "churn", "3", since=DAY + dt.timedelta(hours=2), until=DAY + dt.timedelta(hours=4)
    )

    assert window.samples == 2  # 11:00 and 12:00; 13:00 is past the window's end
    assert window.scores == pytest.approx([0.2, 0.3])
    assert window.inputs == {"clicks_7d": [2.0, 3.0]}
    newer = log.window("shop", "churn", "4", since=DAY, until=DAY + dt.timedelta(days=1))
    assert newer.inputs == {"clicks_7d": [99.0], "country": ["DE"]}
    assert (
        log.window("shop", "fraud", "3", since=DAY, until=DAY + dt.timedelta(days=1)).samples == 0
    )


def test_a_multiclass_models_window_holds_each_predictions_class(tmp_path: Path) -> None:
    vectors = [(0.7, 0.2, 0.1), (0.1, 0.3, 0.6), (0.2, 0.5, 0.3)]
    records = [
        parquet.PredictionRecord(
            "shop",
            "intent",
            "main",
            Prediction(f"r{n}", "", DAY + dt.timedelta(hours=n), "1", max(v), v),
            {"clicks_7d": float(n)},
        )
        for n, v in enumerate(vectors)
    ]
    parquet.write(str(tmp_path), records)

    window = parquet.ParquetPredictionLog(str(tmp_path)).window(
        "shop", "intent", "1", since=DAY, until=DAY + dt.timedelta(days=1)
    )
    table = parquet.read(str(tmp_path), "shop", LogKind.PREDICTIONS, "intent", [DAY.date()])

    assert window.predicted_classes == ["t:0", "t:2", "t:1"]
    assert window.outputs() == ["t:0", "t:2", "t:1"]
    assert [p.class_scores for p in parquet.predictions(table)] == vectors


def test_a_window_of_single_scores_has_no_predicted_classes(tmp_path: Path) -> None:
    _logged(tmp_path)
    window = parquet.ParquetPredictionLog(str(tmp_path)).window(
        "shop", "churn", "3", since=DAY, until=DAY + dt.timedelta(days=1)
    )
    assert window.predicted_classes == []
    assert window.outputs() == window.scores


def test_the_judged_window_is_one_versions_predictions_with_what_is_known_of_them(
    tmp_path: Path,
) -> None:
    _logged(tmp_path)  # version 3, users 1..4 at 10:00, 11:00, 12:00, 13:00
    at = DAY + dt.timedelta(hours=2)
    truth = parquet.OutcomeRecord("shop", "churn", Outcome(OutcomeKind.FEEDBACK, "r2", 1.0, at, at))
    reward = parquet.OutcomeRecord("shop", "churn", Outcome(OutcomeKind.REWARD, "r3", 1.0, at, at))
    late = DAY + dt.timedelta(days=2)  # judges r1, but arrives after the window is read
    later = parquet.OutcomeRecord(
        "shop", "churn", Outcome(OutcomeKind.FEEDBACK, "r1", 0.0, late, late)
    )
    parquet.write(str(tmp_path), [truth, reward, later])
    log = parquet.ParquetPredictionLog(str(tmp_path))

    judged = log.judged(
        "shop",
        "churn",
        "3",
        since=DAY,
        until=DAY + dt.timedelta(hours=3, minutes=30),
        horizon=dt.timedelta(days=1),
    )

    found = {j.prediction.request_id: j.outcome.value if j.outcome else None for j in judged}
    assert found == {"r1": None, "r2": 1.0, "r3": None}  # r4 (13:00) is past the window
    assert log.judged("shop", "churn", "4", since=DAY, until=late, horizon=dt.timedelta(1)) == []


def test_a_keyed_write_replaces_its_file_so_a_redone_run_logs_once(tmp_path: Path) -> None:
    log = parquet.ParquetPredictionLog(str(tmp_path))
    predictions = [
        Prediction(
            f"batch/scores/3/{n}",
            entity_key({"user_id": n}),
            DAY,
            "3",
            0.5,
            logged_features=logged_features({"clicks_7d": float(n)}),
        )
        for n in range(5)
    ]

    for _ in range(2):
        log.write("shop", "churn", "batch/scores", predictions, key="batch-scores-3-0")
    log.write("shop", "churn", "batch/scores", predictions[:1])  # unkeyed: a new file

    window = log.window("shop", "churn", "3", since=DAY, until=DAY + dt.timedelta(hours=1))
    assert window.samples == 6
    assert window.inputs == {"clicks_7d": [0.0, 0.0, 1.0, 2.0, 3.0, 4.0]}
