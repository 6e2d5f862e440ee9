"""A retraining's labels from the prediction log: one row per judged request, its entity's join
keys, when it was served (what its features are joined as of) and its outcome; nothing else."""

from __future__ import annotations

import datetime as dt

from paved.api.model_version import Labels
from paved.api.tasks import Task
from paved.core.prediction_log import Joined, Outcome, OutcomeKind, Prediction
from paved.core.retrain_labels import label_rows, labels_path

AT = dt.datetime(2026, 12, 5, 9, tzinfo=dt.UTC)
LABELS = Labels(path="unused", entity_columns=["user_id"], timestamp_column="ts", label="churned")


def _joined(request: str, entity: str, minute: int, outcome: float | None) -> Joined:
    served = AT + dt.timedelta(minutes=minute)
    judged = (
        None if outcome is None else Outcome(OutcomeKind.FEEDBACK, request, outcome, served, served)
    )
    return Joined(Prediction(request, entity, served, "3", 0.7), judged)


def test_each_judged_prediction_is_a_label_as_of_when_it_was_served() -> None:
    joined = [
        _joined("r2", '{"user_id":2}', 5, 0.0),
        _joined("r1", '{"user_id":1}', 1, 1.0),
        _joined("r3", '{"user_id":3}', 9, None),  # no outcome yet: no label
    ]

    rows = label_rows(joined, LABELS, Task.BINARY)

    assert rows == [
        {"user_id": 1, "ts": AT + dt.timedelta(minutes=1), "churned": 1},
        {"user_id": 2, "ts": AT + dt.timedelta(minutes=5), "churned": 0},
    ]


def test_predictions_without_the_labels_entity_are_left_out() -> None:
    joined = [
        _joined("r1", "", 1, 1.0),  # logged without an entity
        _joined("r2", '{"account":7}', 2, 1.0),  # another entity's keys
        _joined("r3", "not json", 3, 1.0),
        _joined("r4", '{"user_id":4,"region":"eu"}', 4, 0.0),
        _joined("r5", '{"user_id":5}', 5, float("nan")),  # no label a classifier can take
    ]

    assert label_rows(joined, LABELS, Task.BINARY) == [
        {"user_id": 4, "ts": AT + dt.timedelta(minutes=4), "churned": 0}
    ]


def test_one_request_is_one_label_and_a_regressors_value_is_kept_as_is() -> None:
    live = _joined("r1", '{"user_id":1}', 1, 41.5)
    shadow = Joined(live.prediction, live.outcome)  # the candidate's answer to the same request

    rows = label_rows([live, shadow], LABELS, Task.REGRESSION)

    assert rows == [{"user_id": 1, "ts": AT + dt.timedelta(minutes=1), "churned": 41.5}]


def test_a_retrainings_labels_file_is_named_by_its_monitor_and_version() -> None:
    path = labels_path("churn", "churn-retrain-20261205-090000")
    assert path == "retrained/churn/churn-retrain-20261205-090000.parquet"
