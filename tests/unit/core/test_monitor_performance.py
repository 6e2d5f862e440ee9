"""The performance check: the gate metric on the predictions whose outcomes arrived, against
the version's own at training; too few judged predictions, a metric that does not fit, or no
training-time number is Unknown, never a pass."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from paved.api.model_monitor import Performance
from paved.api.tasks import MetricName, Task
from paved.core.monitor_checks import Check, CheckState
from paved.core.monitor_performance import performance, readings
from paved.core.prediction_log import Joined, Outcome, OutcomeKind, Prediction
from paved.core.reasons import MonitorReason as Reason

START = dt.datetime(2026, 12, 1, 8, tzinfo=dt.UTC)
SPEC = Performance(max_regression=0.05, min_labels=200)


def _joined(
    scores: np.ndarray, labels: np.ndarray, *, every: dt.timedelta = dt.timedelta(minutes=1)
) -> list[Joined]:
    rows = []
    for n, (score, label) in enumerate(zip(scores, labels, strict=True)):
        at = START + n * every
        prediction = Prediction(f"r{n}", f'{{"user_id":{n}}}', at, "3", float(score))
        outcome = Outcome(OutcomeKind.FEEDBACK, f"r{n}", float(label), at, at)
        rows.append(Joined(prediction, outcome))
    return rows


def _calibrated(rows: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Scores and labels drawn from them: a model that knows what it is talking about."""
    rng = np.random.default_rng(seed)
    scores = rng.beta(2, 2, rows)
    return scores, (rng.random(rows) < scores).astype(int)


def _binary(rows: list[Joined], trained: float, spec: Performance = SPEC) -> CheckState:
    verdict = performance(
        rows, spec=spec, task=Task.BINARY, gate_metric=MetricName.AUC, trained={"auc": trained}
    )
    assert verdict.check is Check.PERFORMANCE
    return verdict.state


def test_live_auc_as_good_as_at_training_holds() -> None:
    scores, labels = _calibrated(1000)
    live = roc_auc_score(labels, scores)

    verdict = performance(
        _joined(scores, labels),
        spec=SPEC,
        task=Task.BINARY,
        gate_metric=MetricName.AUC,
        trained={"auc": live + 0.01},
    )

    assert (verdict.state, verdict.reason) == (CheckState.OK, Reason.PERFORMANCE_HOLDS)
    assert verdict.value == pytest.approx(live)
    assert verdict.samples == 1000


def test_outcomes_that_no_longer_follow_the_scores_alarm_with_the_numbers() -> None:
    scores, _ = _calibrated(1000)
    world_changed = np.random.default_rng(1).integers(0, 2, 1000)

    verdict = performance(
        _joined(scores, world_changed),
        spec=SPEC,
        task=Task.BINARY,
        gate_metric=MetricName.AUC,
        trained={"auc": 0.78},
    )

    assert (verdict.state, verdict.reason) == (CheckState.ALARM, Reason.PERFORMANCE_DROPPED)
    assert "vs 0.7800 at training" in verdict.message
    assert "> 0.0500 allowed" in verdict.message
    assert verdict.threshold == pytest.approx(0.73)


def test_a_lower_is_better_metric_alarms_when_it_rises() -> None:
    scores, labels = _calibrated(1000)
    spec = Performance(metric=MetricName.LOG_LOSS, max_regression=0.05, min_labels=200)
    rows = _joined(scores, labels)

    def judged(trained: float) -> CheckState:
        found = performance(
            rows,
            spec=spec,
            task=Task.BINARY,
            gate_metric=MetricName.AUC,
            trained={"logLoss": trained},
        )
        return found.state

    assert judged(0.3) is CheckState.ALARM
    assert judged(0.9) is CheckState.OK


def test_predictions_whose_outcome_has_not_arrived_are_not_judged() -> None:
    scores, labels = _calibrated(1000)
    rows = _joined(scores, labels)
    waiting = [Joined(row.prediction, None) for row in rows[150:]]

    verdict = performance(
        [*rows[:150], *waiting],
        spec=SPEC,
        task=Task.BINARY,
        gate_metric=MetricName.AUC,
        trained={"auc": 0.9},
    )

    assert (verdict.state, verdict.reason) == (CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES)
    assert verdict.message.startswith("150 predictions with a known outcome")


def test_no_number_at_training_or_one_class_only_is_not_a_pass() -> None:
    scores, labels = _calibrated(400)
    assert _binary(_joined(scores, labels), trained=float("nan")) is not CheckState.OK
    unrecorded = performance(
        _joined(scores, labels),
        spec=SPEC,
        task=Task.BINARY,
        gate_metric=MetricName.AUC,
        trained={"accuracy": 0.7},
    )
    assert (unrecorded.state, unrecorded.reason) == (CheckState.UNKNOWN, Reason.NO_REFERENCE)
    one_class = performance(
        _joined(scores, np.ones(400)),
        spec=SPEC,
        task=Task.BINARY,
        gate_metric=MetricName.AUC,
        trained={"auc": 0.8},
    )
    assert (one_class.state, one_class.reason) == (CheckState.UNKNOWN, Reason.NOT_MEASURABLE)


@pytest.mark.parametrize(
    ("task", "metric"),
    [(Task.RANKING, MetricName.NDCG), (Task.BINARY, MetricName.RMSE)],
)
def test_a_metric_the_log_cannot_judge_says_why(task: Task, metric: MetricName) -> None:
    scores, labels = _calibrated(400)
    spec = Performance(metric=metric, min_labels=10)

    verdict = performance(
        _joined(scores, labels), spec=spec, task=task, gate_metric=metric, trained={}
    )

    assert (verdict.state, verdict.reason) == (CheckState.UNKNOWN, Reason.NOT_MEASURABLE)
    assert task.value in verdict.message


def test_a_multiclass_model_is_judged_on_its_class_probabilities() -> None:
    rng = np.random.default_rng(3)
    probabilities = rng.dirichlet([1, 1, 1], 600)
    classes = np.array([rng.choice(3, p=p) for p in probabilities])
    rows = [
        Joined(
            Prediction(f"r{n}", "{}", START, "3", float(p.max()), tuple(p.tolist())),
            Outcome(OutcomeKind.FEEDBACK, f"r{n}", float(c), START, START),
        )
        for n, (p, c) in enumerate(zip(probabilities, classes, strict=True))
    ]
    spec = Performance(metric=MetricName.ACCURACY, min_labels=200)

    verdict = performance(
        rows,
        spec=spec,
        task=Task.MULTICLASS,
        gate_metric=MetricName.LOG_LOSS,
        trained={"accuracy": 0.6},
    )

    assert verdict.value == pytest.approx(accuracy_score(classes, probabilities.argmax(axis=1)))


def test_the_metric_is_read_over_the_window_then_per_day_served() -> None:
    scores, labels = _calibrated(600)
    rows = _joined(scores, labels, every=dt.timedelta(hours=0.1))  # 60 hours: three days

    found = readings(Task.BINARY, MetricName.AUC, rows)

    assert [(r.day, r.judged) for r in found] == [
        (None, 600),
        (dt.date(2026, 12, 1), 160),
        (dt.date(2026, 12, 2), 240),
        (dt.date(2026, 12, 3), 200),
    ]
    assert found[1].value == pytest.approx(roc_auc_score(labels[:160], scores[:160]))


def test_a_regressors_overflowing_live_error_is_unknown_never_a_number_the_status_cannot_hold() -> (
    None
):
    rows = _joined(np.full(300, 1e308), np.full(300, -1e308))

    verdict = performance(
        rows,
        spec=Performance(metric=MetricName.RMSE, min_labels=100),
        task=Task.REGRESSION,
        gate_metric=MetricName.RMSE,
        trained={"rmse": 3.0},
    )

    assert (verdict.state, verdict.reason) == (CheckState.UNKNOWN, Reason.NOT_MEASURABLE)
    assert all(reading.value is None for reading in verdict.readings)
