"""Task types and their metrics: what a ModelVersion learns, and how the gates may judge it.

One table (`METRICS`) says, for every metric, the tasks it fits and whether higher or lower is
better. The API server's rules (`fitting_metric_rule`), the ModelVersion's validator, the metric
and slice gates and a PromotionPolicy's floors all read it, so a metric means one thing
everywhere. The metrics themselves are computed in `paved.core.metrics`. ADR 0035.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class Task(StrEnum):
    """What a model predicts: the positive class's probability (binary), every class's
    probability (multiclass), a number (regression), or an order of a query's items (ranking)."""

    BINARY = "binary"
    MULTICLASS = "multiclass"
    REGRESSION = "regression"
    RANKING = "ranking"


class MetricName(StrEnum):
    AUC = "auc"
    LOG_LOSS = "logLoss"
    ACCURACY = "accuracy"
    BRIER = "brier"
    # The name the training runs recorded before it could be a gate, kept so lineage reads on.
    ECE = "expectedCalibrationError"
    MACRO_F1 = "macroF1"
    RMSE = "rmse"
    MAE = "mae"
    NDCG = "ndcg"
    MAP = "map"


class Direction(StrEnum):
    HIGHER_IS_BETTER = "higherIsBetter"
    LOWER_IS_BETTER = "lowerIsBetter"


@dataclass(frozen=True)
class MetricFit:
    tasks: frozenset[Task]
    direction: Direction
    cut_off: bool = False  # judged on each query's top k items (ranking)


_HIGHER, _LOWER = Direction.HIGHER_IS_BETTER, Direction.LOWER_IS_BETTER
_CLASSIFIERS: Final = frozenset({Task.BINARY, Task.MULTICLASS})

METRICS: Final[Mapping[MetricName, MetricFit]] = {
    MetricName.AUC: MetricFit(frozenset({Task.BINARY}), _HIGHER),
    MetricName.LOG_LOSS: MetricFit(_CLASSIFIERS, _LOWER),
    MetricName.ACCURACY: MetricFit(_CLASSIFIERS, _HIGHER),
    MetricName.BRIER: MetricFit(frozenset({Task.BINARY}), _LOWER),
    MetricName.ECE: MetricFit(frozenset({Task.BINARY}), _LOWER),
    MetricName.MACRO_F1: MetricFit(frozenset({Task.MULTICLASS}), _HIGHER),
    MetricName.RMSE: MetricFit(frozenset({Task.REGRESSION}), _LOWER),
    MetricName.MAE: MetricFit(frozenset({Task.REGRESSION}), _LOWER),
    MetricName.NDCG: MetricFit(frozenset({Task.RANKING}), _HIGHER, cut_off=True),
    MetricName.MAP: MetricFit(frozenset({Task.RANKING}), _HIGHER, cut_off=True),
}

DEFAULT_CUT_OFF: Final = 10  # a ranking metric's k when the gate names none


def higher_is_better(metric: MetricName) -> bool:
    return METRICS[metric].direction is Direction.HIGHER_IS_BETTER


def metrics_of(task: Task) -> list[MetricName]:
    """The metrics that fit `task`, in the table's order."""
    return [name for name, fit in METRICS.items() if task in fit.tasks]


def metric_key(metric: MetricName, k: int | None) -> str:
    """The name a run records a metric under: `ndcg@10` for a cut-off metric, else its name."""
    if METRICS[metric].cut_off:
        return f"{metric.value}@{k or DEFAULT_CUT_OFF}"
    return metric.value


def misfit(task: Task, metric: MetricName) -> str | None:
    """Why `metric` cannot judge a model of `task` (None: it can)."""
    if task in METRICS[metric].tasks:
        return None
    fitting = ", ".join(m.value for m in metrics_of(task))
    return f"metric {metric.value} does not fit task {task.value}: use one of {fitting}"


def fitting_metric_rule(metric: str, task: str) -> str:
    """CEL: the metric at path `metric` fits the task at path `task`, by the table above."""
    cases = [f"({task} == '{t.value}' && {metric} in {_cel_list(t)})" for t in Task]
    return " || ".join(cases)


def _cel_list(task: Task) -> str:
    return "[" + ", ".join(f"'{m.value}'" for m in metrics_of(task)) + "]"


def fitting_metrics() -> str:
    """Which metrics fit which task, for people: the rule's message where no expression runs."""
    return "; ".join(f"{t.value}: {', '.join(m.value for m in metrics_of(t))}" for t in Task)


def fitting_metric_message(metric: str, task: str) -> str:
    """CEL messageExpression naming the metric, the task and what fits it."""
    branches = "".join(
        f"{task} == '{t.value}' ? '{', '.join(m.value for m in metrics_of(t))}' : " for t in Task
    )
    return (
        f"'metric ' + {metric} + ' does not fit task ' + {task} + ': use one of ' + ({branches}'')"
    )
