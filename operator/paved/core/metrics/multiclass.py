"""Multiclass classification: a row of class probabilities per item against the class index."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from paved.api.tasks import MetricName
from paved.core.metrics.binary import CLIP
from paved.core.metrics.scored import Scored


def accuracy(labels: NDArray[Any], probabilities: NDArray[np.float64]) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == labels))


def log_loss(labels: NDArray[Any], probabilities: NDArray[np.float64]) -> float:
    """Mean negative log of the true class's probability (rows renormalised, then clipped)."""
    p = probabilities / probabilities.sum(axis=1, keepdims=True)
    true = np.clip(p[np.arange(labels.size), labels.astype(int)], CLIP, 1.0)
    return float(-np.mean(np.log(true)))


def macro_f1(labels: NDArray[Any], probabilities: NDArray[np.float64]) -> float:
    """The unweighted mean of each class's F1 (predicted: the most probable class), over the
    classes that occur in the labels or the predictions; a class with no true or predicted
    member would be 0/0 and is left out, as scikit-learn's labels= default does."""
    predicted = np.argmax(probabilities, axis=1)
    truth = labels.astype(int)
    scores = []
    for c in np.union1d(truth, predicted):
        tp = float(np.sum((predicted == c) & (truth == c)))
        fp = float(np.sum((predicted == c) & (truth != c)))
        fn = float(np.sum((predicted != c) & (truth == c)))
        scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def measure(scored: Scored) -> dict[str, float]:
    labels, probabilities = scored.labels, scored.predictions
    return {
        MetricName.LOG_LOSS.value: log_loss(labels, probabilities),
        MetricName.ACCURACY.value: accuracy(labels, probabilities),
        MetricName.MACRO_F1.value: macro_f1(labels, probabilities),
    }
