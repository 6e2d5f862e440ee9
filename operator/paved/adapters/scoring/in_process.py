"""Score in the worker's own process: the registry version's model, loaded once at start."""

from __future__ import annotations

from typing import Any

import mlflow.sklearn
import numpy as np
import pandas as pd


class InProcessScorer:
    def __init__(self, model: Any) -> None:
        self._model = model

    @classmethod
    def load(cls, uri: str, _endpoint: str | None) -> InProcessScorer:
        """The model at the version's storage URI, as MLflow logged it (scikit-learn); a
        multiclass model is refused: a stream's event gets one score, and its positive class's
        column would be one class of k."""
        model = mlflow.sklearn.load_model(uri)
        if len(getattr(model, "classes_", ())) > 2:
            raise ValueError(
                f"{uri} is a multiclass model ({len(model.classes_)} classes): streaming"
                " prediction writes one score per event; serve its class probabilities online"
            )
        return cls(model)

    def score(self, frame: pd.DataFrame) -> list[float]:
        """The positive class's probability per row (a classifier), else its prediction."""
        if hasattr(self._model, "predict_proba"):
            return [float(p) for p in np.asarray(self._model.predict_proba(frame))[:, 1]]
        return [float(p) for p in np.asarray(self._model.predict(frame))]
