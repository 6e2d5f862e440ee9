"""What a model's features are read from: a FeatureView as it is, a BatchPrediction's served
history as a view, and what stops either being read, lasting or not."""

from __future__ import annotations

from typing import Any, cast

from paved.api.crds import BATCH_PREDICTION, FEATURE_VIEW
from paved.controllers._kopf import parsed
from paved.controllers.feature_sources import FeatureSource, MissingSource, feature_source
from paved.ports import Ports
from tests.support.training import example

NIGHTLY = {
    "metadata": {"name": "nightly"},
    "spec": {
        "model": {"name": "churn"},
        "entities": {"featureView": "user-activity-v1"},
        "trigger": {"schedule": "0 2 * * *"},
        "output": {"pointInTime": {"createdCutoff": False}},
    },
    "status": {
        "served": {
            "asOf": "2026-11-27T02:00:00Z",
            "model": "ml.churn",
            "modelVersion": "4",
            "viewVersion": "abc",
            "rows": 10,
            "seconds": 1.0,
            "finishedAt": "2026-11-27T02:05:00Z",
            "path": "/data/ml/predictions/nightly/run=20261127T020000Z-v4",
        }
    },
}


class _Cluster:
    def __init__(self, *, views: dict[str, Any], predictions: dict[str, Any]) -> None:
        self.views = {n: parsed(FEATURE_VIEW, v) for n, v in views.items()}
        self.predictions = {n: parsed(BATCH_PREDICTION, p) for n, p in predictions.items()}

    async def feature_view(self, _namespace: str, name: str) -> Any:
        return self.views.get(name)

    async def batch_prediction(self, _namespace: str, name: str) -> Any:
        return self.predictions.get(name)


def _ports(**objects: dict[str, Any]) -> Ports:
    return cast(Ports, type("P", (), {"cluster": _Cluster(**objects)})())


VIEW = example("01-featureview.yaml")


async def test_a_feature_view_is_read_as_it_is() -> None:
    ports = _ports(views={"user-activity-v1": VIEW}, predictions={})

    found = await feature_source("ml", "user-activity-v1", ports)

    assert isinstance(found, FeatureSource)
    assert found.upstream is None
    assert found.spec.source.path == VIEW["spec"]["source"]["path"]


async def test_a_batch_prediction_is_read_as_its_served_history_keyed_like_its_entities() -> None:
    ports = _ports(views={"user-activity-v1": VIEW}, predictions={"nightly": NIGHTLY})

    found = await feature_source("ml", "nightly", ports)

    assert isinstance(found, FeatureSource)
    assert (found.upstream, found.served_version) == ("ml.churn/4", "abc")
    assert found.spec.entity.join_keys == ["user_id"]
    assert found.spec.source.created_timestamp_field == "served_at"
    assert found.spec.point_in_time.created_cutoff is False  # as its output says


async def test_a_name_both_kinds_share_is_refused_until_one_is_renamed() -> None:
    ports = _ports(views={"nightly": VIEW}, predictions={"nightly": NIGHTLY})

    found = await feature_source("ml", "nightly", ports)

    assert found == MissingSource(
        "FeatureView nightly and BatchPrediction nightly share a name: rename one", lasting=True
    )


async def test_a_batch_prediction_whose_entities_are_gone_waits() -> None:
    ports = _ports(views={}, predictions={"nightly": NIGHTLY})

    found = await feature_source("ml", "nightly", ports)

    assert isinstance(found, MissingSource)
    assert not found.lasting
    assert "user-activity-v1" in found.message
