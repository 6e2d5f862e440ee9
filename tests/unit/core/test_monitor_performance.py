"""The performance check: the gate metric on the predictions whose outcomes arrived, against
the version's own at training; too few judged predictions, a metric that does not fit, or no
training-time number is Unknown, never a pass."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

from paved.api.model_monitor import Performance
from paved.api.model_version import SliceGate
from paved.api.slice_filters import parse
from paved.api.tasks import MetricName, Task
from paved.core.monitor_checks import Check, CheckState
from paved.core.monitor_performance import LiveSlice, live_slices, performance, readings
from paved.core.prediction_log import Joined, Outcome, OutcomeKind, Prediction
from paved.core.reasons import MonitorReason as Reason
from paved.core.slice_membership import member

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
    assert "> 0.0500 allowed + 0.0" in verdict.message  # and the sampling noise's share
    assert verdict.threshold is not None
    # 0.78 - 0.05, less the noise of AUC on 1000 predictions (about 1.645 x 0.018).
    assert 0.69 < verdict.threshold < 0.72


def test_a_model_as_good_as_at_training_rarely_alarms_on_few_labels() -> None:
    """200 judged predictions a window (minLabels' default): AUC's sampling error alone reads
    it 0.05 worse than at training in about one window in twelve; the noise floor keeps the
    check quiet."""
    big_scores, big_labels = _calibrated(200_000, seed=3)
    trained = roc_auc_score(big_labels, big_scores)
    rng_seeds = range(100, 200)
    windows = [_calibrated(200, seed=seed) for seed in rng_seeds]

    raw_drops = sum(trained - roc_auc_score(labels, scores) > 0.05 for scores, labels in windows)
    alarms = sum(_binary(_joined(s, y), trained) is CheckState.ALARM for s, y in windows)

    assert raw_drops >= 4  # each a false alarm without the floor
    assert alarms <= 1


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


def _with_tenure(rows: list[Joined], tenure: list[int]) -> list[Joined]:
    """The rows as logged with the tenure_days each prediction was served with."""
    return [
        Joined(replace(row.prediction, logged_features=f'{{"tenure_days":{days}}}'), row.outcome)
        for row, days in zip(rows, tenure, strict=True)
    ]


NEW_USERS = LiveSlice("new_users", parse("tenure_days < 180"), trained=0.8)


def test_a_slice_that_dropped_alarms_though_every_prediction_together_holds() -> None:
    """The new users (a fifth of the traffic) no longer behave as the scores say; the others
    do, so the AUC over everyone stays close to the one at training."""
    scores, labels = _calibrated(5000)
    tenure = [30 if n % 5 == 0 else 400 for n in range(5000)]
    labels = labels.copy()
    labels[::5] = np.random.default_rng(3).integers(0, 2, 1000)  # new users: a coin flip
    rows = _with_tenure(_joined(scores, labels), tenure)
    overall = roc_auc_score(labels, scores)

    verdict = performance(
        rows,
        spec=SPEC,
        task=Task.BINARY,
        gate_metric=MetricName.AUC,
        trained={"auc": overall + 0.01},
        slices=[NEW_USERS],
    )

    assert (verdict.state, verdict.reason) == (CheckState.ALARM, Reason.PERFORMANCE_DROPPED)
    assert "; slice new_users: auc 0.5" in verdict.message
    assert "live on 1000 judged predictions vs 0.8000 at training: worse by" in verdict.message
    overall_reading, new_users = verdict.readings[:2]
    assert (overall_reading.slice, overall_reading.judged) == (None, 5000)
    assert (new_users.slice, new_users.judged, new_users.trained) == ("new_users", 1000, 0.8)


def test_a_slice_as_good_as_at_training_or_without_a_number_then_does_not_alarm() -> None:
    scores, labels = _calibrated(5000)
    tenure = [30 if n % 5 == 0 else 400 for n in range(5000)]
    rows = _with_tenure(_joined(scores, labels), tenure)
    live_new = roc_auc_score(labels[::5], scores[::5])
    overall = roc_auc_score(labels, scores)

    for trained in (live_new, None):
        verdict = performance(
            rows,
            spec=SPEC,
            task=Task.BINARY,
            gate_metric=MetricName.AUC,
            trained={"auc": overall},
            slices=[replace(NEW_USERS, trained=trained)],
        )

        assert verdict.state is CheckState.OK
        assert verdict.readings[1].value == pytest.approx(live_new)


def test_a_slice_on_a_feature_the_log_does_not_hold_judges_nothing() -> None:
    scores, labels = _calibrated(1000)

    verdict = performance(
        _joined(scores, labels),  # logged without features
        spec=SPEC,
        task=Task.BINARY,
        gate_metric=MetricName.AUC,
        trained={"auc": 0.7},
        slices=[NEW_USERS],
    )

    assert verdict.readings[1].judged == 0
    assert "slice" not in verdict.message


def test_the_slices_are_the_production_versions_gates_with_their_metrics_at_training() -> None:
    gates = [
        SliceGate(name="new_users", where="tenure_days < 180"),
        SliceGate(name="de", where="country = 'DE'"),
    ]

    found = live_slices(gates, {"new_users": 0.74})

    assert [(s.name, s.trained) for s in found] == [("new_users", 0.74), ("de", None)]
    assert member(found[1].where, {"country": "DE"})
