"""Regression: a predicted number against the true one."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from paved.api.tasks import MetricName
from paved.core.metrics.scored import Scored


def rmse(labels: NDArray[Any], predicted: NDArray[np.float64]) -> float:
    return float(np.sqrt(np.mean((predicted - labels.astype(np.float64)) ** 2)))


def mae(labels: NDArray[Any], predicted: NDArray[np.float64]) -> float:
    return float(np.mean(np.abs(predicted - labels.astype(np.float64))))


def measure(scored: Scored) -> dict[str, float]:
    return {
        MetricName.RMSE.value: rmse(scored.labels, scored.predictions),
        MetricName.MAE.value: mae(scored.labels, scored.predictions),
    }
