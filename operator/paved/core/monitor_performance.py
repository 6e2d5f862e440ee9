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
from dataclasses import dataclass
from itertools import groupby
from typing import Final

import numpy as np

from paved.api import slice_filters
from paved.api.meta import parse_duration
from paved.api.model_monitor import MetricReading, ModelMonitorSpec, Performance
from paved.api.model_version import SliceGate
from paved.api.slice_filters import Expression
from paved.api.tasks import MetricName, Task, higher_is_better, metric_key, misfit
from paved.core.metrics import Scored, measure
from paved.core.monitor_checks import Check, CheckState, CheckVerdict
from paved.core.prediction_log import Joined
from paved.core.reasons import MonitorReason as Reason
from paved.core.slice_membership import member

# Days of per-day readings kept in the status (the most recent).
MAX_DAYS = 60
# An alarm needs the drop past maxRegression to stand out of the live metric's sampling noise:
# one-sided 95% (ADR 0040, addendum). Without it, 200 judged predictions of a model exactly as
# good as at training read AUC 0.05 worse in about 8% of checks.
NOISE_Z: Final = 1.645
# The noise is the metric's spread over bootstrap resamples of at most this many judged rows,
# scaled to all of them (a mean-like metric's error falls as 1/sqrt(n)); seeded, so a tick
# decides the same way again.
BOOTSTRAP_RESAMPLES: Final = 100
BOOTSTRAP_ROWS: Final = 5_000


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
    found = _judged(task, rows)
    return None if found is None else _metric(task, metric, found)


def standard_error(task: Task, metric: MetricName, rows: Sequence[Joined]) -> float:
    """The live metric's sampling error on the judged rows (0 when it cannot be told)."""
    found = _judged(task, rows)
    if found is None:
        return 0.0
    total = len(found.labels)
    rng = np.random.default_rng(0)
    kept = min(total, BOOTSTRAP_ROWS)
    base = rng.choice(total, kept, replace=False) if kept < total else np.arange(total)
    values = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        pick = base[rng.integers(0, kept, kept)]
        value = _metric(task, metric, Scored(found.labels[pick], found.predictions[pick]))
        if value is not None:
            values.append(value)
    if len(values) < 2:
        return 0.0
    return float(np.std(values, ddof=1)) * math.sqrt(kept / total)


def _judged(task: Task, rows: Sequence[Joined]) -> Scored | None:
    judged = [row for row in rows if row.outcome is not None and math.isfinite(row.outcome.value)]
    return scored(task, judged) if judged else None


def _metric(task: Task, metric: MetricName, found: Scored) -> float | None:
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


@dataclass(frozen=True)
class LiveSlice:
    """A slice of the production version's gates, judged on the logged predictions by the
    features they were served with."""

    name: str
    where: Expression
    trained: float | None  # its metric on the holdout at training (None: not recorded)


@dataclass(frozen=True)
class _Judged:
    """One comparison of a live metric with the one at training."""

    alarm: bool
    message: str
    threshold: float


def _compare(
    task: Task,
    metric: MetricName,
    rows: Sequence[Joined],
    *,
    live: float,
    reference: float,
    max_regression: float,
) -> _Judged:
    """Worse than at training by more than `max_regression` plus the live metric's sampling
    noise on these rows: an alarm."""
    higher = higher_is_better(metric)
    worse_by = reference - live if higher else live - reference
    noise = NOISE_Z * standard_error(task, metric, rows)
    allowed = max_regression + noise
    # The live value past which it alarms.
    threshold = reference - allowed if higher else reference + allowed
    judged = sum(1 for row in rows if row.outcome is not None)
    compared = (
        f"{metric.value} {live:.4f} live on {judged} judged predictions vs {reference:.4f} at"
        f" training"
    )
    within = f"{max_regression:.4f} allowed + {noise:.4f} sampling noise"
    if worse_by > allowed:
        return _Judged(True, f"{compared}: worse by {worse_by:.4f} > {within}", threshold)
    return _Judged(False, f"{compared}: within {within}", threshold)


def _slices(
    task: Task,
    metric: MetricName,
    rows: Sequence[Joined],
    *,
    slices: Sequence[LiveSlice],
    spec: Performance,
) -> tuple[list[MetricReading], list[str]]:
    """Each slice's live reading, and the alarms of those with enough judged predictions and a
    metric at training to compare with."""
    found, alarms = [], []
    # Only a judged prediction counts, and reading its features costs: judge those alone.
    judged_rows = [row for row in rows if row.outcome is not None]
    for live_slice in slices:
        members = [r for r in judged_rows if member(live_slice.where, r.prediction.features)]
        reading = MetricReading(
            metric=metric.value,
            slice=live_slice.name,
            value=live_value(task, metric, members),
            judged=sum(1 for row in members if row.outcome is not None),
            trained=live_slice.trained,
        )
        found.append(reading)
        reference = live_slice.trained
        if reading.judged < spec.min_labels or reading.value is None or reference is None:
            continue
        judged = _compare(
            task,
            metric,
            members,
            live=reading.value,
            reference=reference,
            max_regression=spec.max_regression,
        )
        if judged.alarm:
            alarms.append(f"slice {live_slice.name}: {judged.message}")
    return found, alarms


def live_slices(gates: Sequence[SliceGate], trained: Mapping[str, float]) -> list[LiveSlice]:
    """The production version's slices (its gates'), each with its metric at training."""
    return [
        LiveSlice(gate.name, slice_filters.parse(gate.where), trained.get(gate.name))
        for gate in gates
    ]


def performance(
    rows: Sequence[Joined],
    *,
    spec: Performance,
    task: Task,
    gate_metric: MetricName,
    trained: Mapping[str, float],
    slices: Sequence[LiveSlice] = (),
) -> CheckVerdict:
    """Alarm when the live metric, over every judged prediction or over a slice's, is worse than
    the version's at training by more than `maxRegression`; Unknown when too few predictions are
    judged or nothing compares."""
    check = Check.PERFORMANCE
    metric, unjudgeable = judged_metric(spec, task, gate_metric)
    if unjudgeable is not None:
        message = f"{metric.value} is not judged live for a {task.value} model: {unjudgeable}."
        return CheckVerdict(check, CheckState.UNKNOWN, Reason.NOT_MEASURABLE, message)
    overall, *days = readings(task, metric, rows)
    sliced, slice_alarms = _slices(task, metric, rows, slices=slices, spec=spec)
    found = [overall, *sliced, *days]
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
    judged = _compare(
        task,
        metric,
        rows,
        live=overall.value,
        reference=reference,
        max_regression=spec.max_regression,
    )
    message = "; ".join([judged.message, *slice_alarms]) + "."
    if judged.alarm or slice_alarms:
        state, reason = CheckState.ALARM, Reason.PERFORMANCE_DROPPED
    else:
        state, reason = CheckState.OK, Reason.PERFORMANCE_HOLDS
    return _verdict(state, reason, message, found, value=overall.value, threshold=judged.threshold)


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
