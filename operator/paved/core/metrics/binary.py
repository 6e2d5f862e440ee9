"""Binary classification: the positive class's probability against 0/1 labels."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from paved.api.tasks import MetricName
from paved.core.metrics.scored import Scored

# Probabilities are clipped this far from 0 and 1, so one confident miss costs a large, finite
# log loss (scikit-learn clips at its float's epsilon the same way).
CLIP: float = float(np.finfo(np.float64).eps)


def auc(labels: NDArray[Any], score: NDArray[np.float64]) -> float | None:
    """Area under the ROC curve: the chance a positive outscores a negative, ties counted half
    (Mann-Whitney U over mid-ranks). None with only one class present."""
    positive = labels.astype(bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    # Mid-ranks: the scores of a run of equal ones hold ranks start+1 … end, and each gets
    # their average.
    _, run, counts = np.unique(score, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    ranks = ((ends - counts + 1 + ends) / 2)[run]
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


def log_loss(labels: NDArray[Any], score: NDArray[np.float64]) -> float:
    p = np.clip(score, CLIP, 1 - CLIP)
    y = labels.astype(np.float64)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def accuracy(labels: NDArray[Any], score: NDArray[np.float64]) -> float:
    return float(np.mean((score >= 0.5) == labels.astype(bool)))


def brier(labels: NDArray[Any], score: NDArray[np.float64]) -> float:
    return float(np.mean((score - labels.astype(np.float64)) ** 2))


def expected_calibration_error(
    labels: NDArray[Any], score: NDArray[np.float64], bins: int = 10
) -> float:
    """ECE: over ten equal-width bins of the score, the share of rows in each times the gap
    between its mean score and its positive rate."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(score, edges[1:-1]), 0, bins - 1)
    y = labels.astype(np.float64)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += float(members.mean()) * abs(float(y[members].mean() - score[members].mean()))
    return error


def measure(scored: Scored) -> dict[str, float]:
    labels, score = scored.labels, scored.predictions
    result = {
        MetricName.LOG_LOSS.value: log_loss(labels, score),
        MetricName.ACCURACY.value: accuracy(labels, score),
        MetricName.BRIER.value: brier(labels, score),
        MetricName.ECE.value: expected_calibration_error(labels, score),
    }
    if (area := auc(labels, score)) is not None:
        result[MetricName.AUC.value] = area
    return result
