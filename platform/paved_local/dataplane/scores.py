"""What a model answers per row, and how each protocol carries it (ADR 0039).

A binary classifier's answer is its positive class's probability and a regressor's its value:
one number a row. A multiclass classifier's is its class probabilities, a vector a row, in the
order of the model's classes. Both protocols carry the vector as Seldon's and KServe's own
scikit-learn servers do for `predict_proba`: Seldon v1 names the columns `t:0` … `t:<k-1>` with
a row of k values per request row; V2 gives one output of shape [rows, k], row-major; KServe
v1 a list of k per instance.

Where one number per row is needed (the score histogram, the prediction log's `score`, the
ranking of candidates) a vector is summed up by its top class's probability, the model's
confidence; the log keeps the whole vector beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np

SINGLE: Final = "score"


class NotOneScoreError(ValueError):
    """A multiclass model's answer where one score per row is needed (a ranking)."""


@dataclass(frozen=True)
class Scores:
    """A model's answer for some rows: shape (rows,) for one score a row, (rows, k) for k class
    probabilities a row."""

    values: np.ndarray

    def __post_init__(self) -> None:
        if self.values.ndim not in (1, 2):
            raise ValueError(f"scores of shape {self.values.shape}: one or k values a row")

    @classmethod
    def of_model(cls, output: Any) -> Scores:
        """A model's output as scores: a probability matrix of two columns is the binary case
        (the positive class), of one column a single score, of more the class vector."""
        values = np.asarray(output, dtype=np.float64)
        if values.ndim == 2 and values.shape[1] <= 2:
            values = values[:, -1]
        return cls(values)

    @property
    def multiclass(self) -> bool:
        return self.values.ndim == 2

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def take(self, start: int, stop: int) -> Scores:
        """Rows `start` to `stop` (one request's of a batch)."""
        return Scores(self.values[start:stop])

    def headline(self) -> np.ndarray:
        """One number a row: the score, or the top class's probability."""
        return self.values.max(axis=1) if self.multiclass else self.values

    def rows(self) -> list[Any]:
        """Each row's answer as JSON: a number, or a list of k."""
        return [float(v) for v in self.values] if not self.multiclass else self.values.tolist()

    def single(self) -> list[float]:
        """One score a row, refused for a multiclass model (it has k, none of them the score)."""
        if self.multiclass:
            raise NotOneScoreError(
                f"a multiclass model answers {self.values.shape[1]} class probabilities a row,"
                " not one score to rank by"
            )
        return [float(v) for v in self.values]

    def names(self) -> list[str]:
        """Seldon v1's column names: `score`, or `t:0` … `t:<k-1>` as Seldon's SKLearn server."""
        if not self.multiclass:
            return [SINGLE]
        return [f"t:{n}" for n in range(self.values.shape[1])]

    def v2_output(self, name: str) -> dict[str, Any]:
        """One V2 output tensor: shape [rows] or [rows, k], its data row-major."""
        return {
            "name": name,
            "datatype": "FP64",
            "shape": list(self.values.shape),
            "data": self.values.reshape(-1).tolist(),
        }

    def shifted(self, by: float) -> Scores:
        """An injected score shift (a fault): a single score moves by `by` within [0, 1]; class
        probabilities move their top class by `by` and renormalise, so they stay a
        distribution."""
        if not self.multiclass:
            return Scores(np.clip(self.values + by, 0.0, 1.0))
        moved = self.values.copy()
        top = moved.argmax(axis=1)
        rows = np.arange(len(moved))
        moved[rows, top] = np.clip(moved[rows, top] + by, 0.0, 1.0)
        totals = moved.sum(axis=1, keepdims=True)
        return Scores(
            np.divide(moved, totals, out=np.full_like(moved, 1 / moved.shape[1]), where=totals > 0)
        )
