"""The metrics of every task, as pure functions of labels and predictions; one module a task.

`MEASURES` is the task → measure table: each measure takes a `Scored` holdout and returns the
task's metrics by the names a run records them under (`paved.api.tasks.metric_key`). A metric
that cannot be computed on the rows given (AUC on one class, NDCG with no relevant item) is
left out, never recorded as a number it is not. Which metric fits which task, and its
direction, is `paved.api.tasks.METRICS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Final

from paved.api.tasks import Task
from paved.core.metrics import binary, multiclass, ranking, regression
from paved.core.metrics.scored import Scored

Measure = Callable[[Scored], dict[str, float]]

MEASURES: Final[Mapping[Task, Measure]] = {
    Task.BINARY: binary.measure,
    Task.MULTICLASS: multiclass.measure,
    Task.REGRESSION: regression.measure,
    Task.RANKING: ranking.measure,
}


def measure(task: Task, scored: Scored) -> dict[str, float]:
    return MEASURES[task](scored)


__all__ = ["MEASURES", "Measure", "Scored", "measure"]
