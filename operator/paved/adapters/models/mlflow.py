"""Models as MLflow stores them (the scikit-learn flavour the training pipeline logs), loaded
from a version's storage URI and kept for the next run of the same version.

The frame a model scores is built as the training pipeline built it: text and booleans as
objects (missing as None), numbers as float64 (missing as NaN), columns by name.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Final

import mlflow
import pyarrow as pa
from mlflow.exceptions import MlflowException

from paved.ports.models import ModelUnloadableError, Scorer
from paved.ports.registry import RegistryUnavailableError

KEPT: Final = 4  # loaded models kept, newest used first: a rollout's two and a spare


class SklearnScorer:
    def __init__(self, model: Any) -> None:
        self._model = model

    @property
    def features(self) -> tuple[str, ...]:
        return tuple(str(name) for name in getattr(self._model, "feature_names_in_", ()))

    def score(self, rows: pa.Table) -> pa.Array:
        frame = rows.select(list(self.features) or rows.column_names).to_pandas()
        for name, column in zip(rows.column_names, rows.columns, strict=True):
            if name not in frame:
                continue
            if pa.types.is_string(column.type) or pa.types.is_boolean(column.type):
                frame[name] = frame[name].astype("object").where(frame[name].notna(), None)
            else:
                frame[name] = frame[name].astype("float64")
        return pa.array(self._model.predict_proba(frame)[:, 1], pa.float64())


class MlflowModels:
    """`ModelLoader` over MLflow's scikit-learn flavour."""

    def __init__(self, tracking_uri: str) -> None:
        self._tracking_uri = tracking_uri
        self._kept: OrderedDict[str, SklearnScorer] = OrderedDict()
        self._lock = threading.Lock()

    def load(self, uri: str) -> Scorer:
        with self._lock:
            if uri in self._kept:
                self._kept.move_to_end(uri)
                return self._kept[uri]
        mlflow.set_tracking_uri(self._tracking_uri)
        try:
            model = mlflow.sklearn.load_model(uri)
        except (ConnectionError, TimeoutError) as error:
            raise RegistryUnavailableError(f"{uri} cannot be fetched: {error}") from error
        except (MlflowException, OSError, ValueError) as error:
            raise ModelUnloadableError(f"{uri} cannot be loaded as a model: {error}") from error
        if not hasattr(model, "predict_proba"):
            raise ModelUnloadableError(f"{uri} holds a {type(model).__name__}: it has no scores")
        if len(getattr(model, "classes_", ())) > 2:
            # Its positive class's column would be one class of k, served as if the score.
            raise ModelUnloadableError(
                f"{uri} is a multiclass model ({len(model.classes_)} classes): batch prediction"
                " writes one score per entity; serve its class probabilities online"
            )
        scorer = SklearnScorer(model)
        with self._lock:
            self._kept[uri] = scorer
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return scorer
