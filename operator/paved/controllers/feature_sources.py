"""What a model's features are read from: a FeatureView, or a BatchPrediction's predictions (a
hybrid, ADR 0042), as the FeatureViewSpec that the offline engine and the training pipeline
read. One lookup for training, batch scoring and monitoring, so a hybrid is read alike in all.
"""

from __future__ import annotations

from dataclasses import dataclass

from paved.api.feature_view import FeatureViewSpec
from paved.core.batch_predictions import prediction_view_spec
from paved.ports import Ports
from paved.ports.cluster import Unreadable


@dataclass(frozen=True)
class FeatureSource:
    name: str
    spec: FeatureViewSpec
    # A BatchPrediction's served model, "<registered model>/<registry version>", and the view
    # version its served predictions are under online; None for a FeatureView.
    upstream: str | None = None
    served_version: str | None = None


@dataclass(frozen=True)
class MissingSource:
    """Why the source cannot be read; `lasting`: not until someone changes something."""

    message: str
    lasting: bool = False


async def feature_source(namespace: str, name: str, ports: Ports) -> FeatureSource | MissingSource:
    view = await ports.cluster.feature_view(namespace, name)
    predictions = await ports.cluster.batch_prediction(namespace, name)
    if view is not None and predictions is not None:
        message = f"FeatureView {name} and BatchPrediction {name} share a name: rename one"
        return MissingSource(message, lasting=True)
    if isinstance(view, Unreadable):
        return MissingSource(f"FeatureView {name} cannot be read: {view.problem}", lasting=True)
    if view is not None:
        return FeatureSource(name, view.spec)
    if predictions is None:
        return MissingSource(f"FeatureView or BatchPrediction {name} does not exist")
    if isinstance(predictions, Unreadable):
        problem = predictions.problem
        return MissingSource(f"BatchPrediction {name} cannot be read: {problem}", lasting=True)
    served = predictions.status.served
    if served is None:
        return MissingSource(f"BatchPrediction {name} has served no predictions yet")
    scored = predictions.spec.entities.feature_view
    entities = await ports.cluster.feature_view(namespace, scored)
    if entities is None or isinstance(entities, Unreadable):
        return MissingSource(f"FeatureView {scored}, whose entities {name} scores, is missing")
    keys = entities.spec.entity.join_keys
    spec = prediction_view_spec(name, predictions.spec, join_keys=keys)
    upstream = f"{served.model}/{served.model_version}"
    return FeatureSource(name, spec, upstream, served.view_version)
