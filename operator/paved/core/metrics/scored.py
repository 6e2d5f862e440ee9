"""What every task's metrics read: a holdout's labels and a model's predictions on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from paved.api.tasks import DEFAULT_CUT_OFF


@dataclass(frozen=True)
class Scored:
    """`labels`: binary 0/1; multiclass the class's index into the predictions' columns;
    regression the value; ranking the item's relevance grade (0: not relevant).
    `predictions`: binary the positive class's probability; multiclass a row of class
    probabilities per item; regression the predicted value; ranking the item's score.
    `queries` (ranking): each row's query; `k` (ranking): the cut-off."""

    labels: NDArray[Any]
    predictions: NDArray[np.float64]
    queries: NDArray[Any] | None = None
    k: int = DEFAULT_CUT_OFF

    def rows(self, members: NDArray[np.bool_]) -> Scored:
        """The same holdout restricted to `members` (a slice)."""
        queries = None if self.queries is None else self.queries[members]
        return Scored(self.labels[members], self.predictions[members], queries, self.k)
