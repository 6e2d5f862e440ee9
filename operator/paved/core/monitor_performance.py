"""A ModelMonitor's performance check: the metric the version was trained to, measured live on
the predictions whose outcomes are known, against its holdout's at training time (ADR 0040).

Pure: the controller hands in the joined log (`core/prediction_log.join`, as of the tick) of the
production version's predictions in the judged window, the version's task and its training-time
metrics. An outcome is the prediction's label: Seldon feedback's truth, or the entity's next
label of a label source. Predictions not judged yet (no outcome known) do not count; fewer
judged ones than `minLabels` is Unknown, never a pass.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence
from itertools import groupby

import numpy as np

from paved.api.meta import parse_duration
from paved.api.model_monitor import MetricReading, ModelMonitorSpec, Performance
from paved.api.tasks import MetricName, Task, higher_is_better, metric_key, misfit
from paved.core.metrics import Scored, measure
from paved.core.monitor_checks import Check, CheckState, CheckVerdict
from paved.core.prediction_log import Joined
from paved.core.reasons import MonitorReason as Reason

# Days of per-day readings kept in the status (the most recent).
MAX_DAYS = 60


def label_horizon(spec: ModelMonitorSpec) -> dt.timedelta:
    """How long after a prediction its entity's label still judges it, for every read of the
    joined log: the performance section's, or its default when the monitor has none."""
    return parse_duration((spec.performance or Performance()).label_horizon)


def judged_metric(
    spec: Performance, task: Task, gate_metric: MetricName
) -> tuple[MetricName, str | None]:
    """The metric judged (the spec's, else the version's metric gate's) and why it cannot be
    judged live (None: it can)."""
    metric = spec.metric or gate_metric
    if task is Task.RANKING:
        return metric, "a ranker's metrics need whole lists judged; the log judges predictions"
    return metric, misfit(task, metric)


def scored(task: Task, rows: Sequence[Joined]) -> Scored | None:
    """The judged rows as the task's metrics read them; None when their shape does not fit (a
    multiclass row without its class probabilities, a class index out of range)."""
    outcomes = [row.outcome.value for row in rows if row.outcome is not None]
    predictions = [row.prediction for row in rows if row.outcome is not None]
    match task:
        case Task.BINARY:
            # A label is 0 or 1; a truth given as a probability counts as its rounded class.
            labels = np.array([1 if value >= 0.5 else 0 for value in outcomes])
            return Scored(labels, np.array([p.score for p in predictions], dtype=np.float64))
        case Task.MULTICLASS:
            widths = {len(p.class_scores) for p in predictions}
            if len(widths) != 1 or 0 in widths:
                return None
            (width,) = widths
            classes = [int(value) for value in outcomes]
            # A class is an index into the probabilities: a whole number in range.
            if any(not 0 <= c < width or c != v for c, v in zip(classes, outcomes, strict=True)):
                return None
            matrix = np.array([p.class_scores for p in predictions], dtype=np.float64)
            return Scored(np.array(classes), matrix)
        case Task.REGRESSION:
            scores = np.array([p.score for p in predictions], dtype=np.float64)
            return Scored(np.array(outcomes, dtype=np.float64), scores)
        case Task.RANKING:
            return None


def live_value(task: Task, metric: MetricName, rows: Sequence[Joined]) -> float | None:
    """The metric on the judged rows; None when it cannot be computed on them (AUC on one class)."""
    judged = [row for row in rows if row.outcome is not None and math.isfinite(row.outcome.value)]
    found = scored(task, judged) if judged else None
    if found is None:
        return None
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is judged below, not warned
        value = measure(task, found).get(metric_key(metric, None))
    # A value the status cannot hold (JSON has no Infinity) is not a measurement: unknown.
    return value if value is not None and math.isfinite(value) else None


def readings(task: Task, metric: MetricName, rows: Sequence[Joined]) -> list[MetricReading]:
    """The metric over every judged row, then per day served (the most recent MAX_DAYS)."""
    judged = sorted(
        (row for row in rows if row.outcome is not None), key=lambda row: row.prediction.served_at
    )
    overall = MetricReading(
        metric=metric.value, value=live_value(task, metric, judged), judged=len(judged)
    )
    by_day = [(day, list(group)) for day, group in groupby(judged, key=_day)]
    days = [
        MetricReading(
            metric=metric.value, day=day, value=live_value(task, metric, group), judged=len(group)
        )
        for day, group in by_day[-MAX_DAYS:]
    ]
    return [overall, *days]


def _day(row: Joined) -> dt.date:
    return row.prediction.served_at.date()


def performance(
    rows: Sequence[Joined],
    *,
    spec: Performance,
    task: Task,
    gate_metric: MetricName,
    trained: Mapping[str, float],
) -> CheckVerdict:
    """Alarm when the live metric is worse than the version's at training by more than
    `maxRegression`; Unknown when too few predictions are judged or nothing compares."""
    check = Check.PERFORMANCE
    metric, unjudgeable = judged_metric(spec, task, gate_metric)
    if unjudgeable is not None:
        message = f"{metric.value} is not judged live for a {task.value} model: {unjudgeable}."
        return CheckVerdict(check, CheckState.UNKNOWN, Reason.NOT_MEASURABLE, message)
    found = readings(task, metric, rows)
    overall = found[0]
    samples = overall.judged
    if samples < spec.min_labels:
        message = (
            f"{samples} predictions with a known outcome in the last {spec.window}"
            f" < {spec.min_labels} needed."
        )
        return _verdict(CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES, message, found)
    reference = trained.get(metric_key(metric, None))
    if reference is None or not math.isfinite(reference):
        message = f"The production version recorded no {metric.value} at training to compare."
        return _verdict(CheckState.UNKNOWN, Reason.NO_REFERENCE, message, found)
    if overall.value is None:
        message = f"{metric.value} cannot be computed on the {samples} judged predictions."
        return _verdict(CheckState.UNKNOWN, Reason.NOT_MEASURABLE, message, found)
    live = overall.value
    higher = higher_is_better(metric)
    worse_by = reference - live if higher else live - reference
    # The live value past which it alarms.
    threshold = reference - spec.max_regression if higher else reference + spec.max_regression
    compared = (
        f"{metric.value} {live:.4f} live on {samples} judged predictions vs {reference:.4f} at"
        f" training"
    )
    if worse_by > spec.max_regression:
        message = f"{compared}: worse by {worse_by:.4f} > {spec.max_regression:.4f} allowed."
        state, reason = CheckState.ALARM, Reason.PERFORMANCE_DROPPED
    else:
        message = f"{compared}: within {spec.max_regression:.4f}."
        state, reason = CheckState.OK, Reason.PERFORMANCE_HOLDS
    return _verdict(state, reason, message, found, value=live, threshold=threshold)


def _verdict(
    state: CheckState,
    reason: Reason,
    message: str,
    found: Sequence[MetricReading],
    *,
    value: float | None = None,
    threshold: float | None = None,
) -> CheckVerdict:
    return CheckVerdict(
        Check.PERFORMANCE,
        state,
        reason,
        message,
        value,
        threshold,
        found[0].judged,
        readings=tuple(found),
    )
