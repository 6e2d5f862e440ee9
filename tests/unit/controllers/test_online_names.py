"""A FeatureView, a BatchPrediction and a StreamingPrediction of one name would serve, write and
delete each other's online values: the one created later is not accepted, writes nothing and,
deleted, removes nothing of the holder's (ADR 0045)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from paved.api.batch_prediction import BatchPredictionSpec, BatchPredictionStatus
from paved.api.crds import FEATURE_VIEW
from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus
from paved.api.streaming_prediction import StreamingPredictionSpec, StreamingPredictionStatus
from paved.controllers import batch_prediction, feature_view, streaming_prediction
from paved.controllers._kopf import Resource, parsed
from paved.ports import Ports
from tests.support.training import example

NOW = dt.datetime(2026, 12, 6, 9, 0, tzinfo=dt.UTC)
EARLY, LATE = "2026-12-01T10:00:00Z", "2026-12-02T10:00:00Z"
NAME = "churn"


class Untouchable:
    """A store or worker pool that fails the test when anything reaches it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was called for an object that does not hold its name")


class Cluster:
    """The entities' FeatureView, and the objects of `created` (kind → when) named NAME."""

    def __init__(self, created: dict[str, str]) -> None:
        self._created = created

    async def created(self, kind: str, _namespace: str, name: str) -> str | None:
        return self._created.get(kind) if name == NAME else None

    async def exists(self, kind: str, namespace: str, name: str) -> bool:
        return name != NAME or await self.created(kind, namespace, name) is not None

    async def feature_view(self, _namespace: str, name: str) -> Any:
        return parsed(FEATURE_VIEW, example("01-featureview.yaml")) if name != NAME else None


class Workers:
    def __init__(self) -> None:
        self.removed: list[tuple[str, str]] = []

    async def remove(self, namespace: str, name: str) -> int:
        self.removed.append((namespace, name))
        return 2


def _ports(created: dict[str, str], **more: Any) -> Ports:
    untouchable = cast(Any, Untouchable())
    return Ports(
        cluster=cast(Any, Cluster(created)),
        offline=untouchable,
        online=more.pop("online", untouchable),
        runner=untouchable,
        registry=untouchable,
        routers=untouchable,
        metrics=untouchable,
        data_root="/data",
        code_commit="c0ffee",
        **more,
    )


def _resource(kind: str, document: str, spec: Any, status: Any, created: str) -> Any:
    spec = spec.model_validate(example(document)["spec"])
    return Resource(
        NAME, spec, status, {}, created, kind=kind, namespace="ml", uid="u", generation=1
    )


def _observed(result: Any) -> dict[str, tuple[str, str, str]]:
    return {o.type: (o.status, o.reason, o.message) for o in result.observed}


async def test_a_feature_view_named_as_an_earlier_batch_prediction_writes_nothing() -> None:
    ports = _ports({"FeatureView": LATE, "BatchPrediction": EARLY})
    view = _resource(
        "FeatureView", "01-featureview.yaml", FeatureViewSpec, FeatureViewStatus(), LATE
    )

    result = await feature_view.keep_features_fresh(view, ports, NOW)

    observed = _observed(result)
    assert observed["Accepted"][:2] == ("False", "NameTaken")
    assert observed["Accepted"][2].startswith("BatchPrediction churn, created first")
    assert observed["Ready"][:2] == ("False", "NameTaken")
    assert "watermark" not in result.status_updates


async def test_deleting_a_feature_view_that_never_held_its_name_leaves_the_holders_keys() -> None:
    ports = _ports({"FeatureView": LATE, "StreamingPrediction": EARLY})
    view = _resource(
        "FeatureView", "01-featureview.yaml", FeatureViewSpec, FeatureViewStatus(), LATE
    )

    result = await feature_view.remove_online_values(view, ports, 0)

    assert "0" in result.observed[0].message  # and the Untouchable online store was not asked


async def test_deleting_the_holder_removes_its_keys() -> None:
    deleted: list[tuple[str, str]] = []
    online = type("Online", (), {"delete_all_versions": lambda _, *key: deleted.append(key) or 7})
    ports = _ports({"FeatureView": EARLY, "BatchPrediction": LATE}, online=online())
    view = _resource(
        "FeatureView", "01-featureview.yaml", FeatureViewSpec, FeatureViewStatus(), EARLY
    )

    await feature_view.remove_online_values(view, ports, 0)

    assert deleted == [("ml", NAME)]


async def test_a_batch_prediction_named_as_an_earlier_feature_view_scores_nothing() -> None:
    ports = _ports({"FeatureView": EARLY, "BatchPrediction": LATE}, models=Untouchable())
    scores = _resource(
        "BatchPrediction",
        "04-batchprediction.yaml",
        BatchPredictionSpec,
        BatchPredictionStatus(),
        LATE,
    )

    result = await batch_prediction.score_batch_predictions(scores, ports, NOW)

    assert _observed(result)["Accepted"][:2] == ("False", "NameTaken")
    assert result.status_updates["phase"] == "Pending"


async def test_a_streaming_prediction_named_as_an_earlier_one_stops_its_workers() -> None:
    workers = Workers()
    created = {"StreamingPrediction": LATE, "BatchPrediction": EARLY}
    ports = _ports(created, workers=workers, backlogs=Untouchable())
    events = _resource(
        "StreamingPrediction",
        "04-streamingprediction.yaml",
        StreamingPredictionSpec,
        StreamingPredictionStatus(),
        LATE,
    )

    result = await streaming_prediction.keep_scoring(events, ports, NOW)

    observed = _observed(result)
    assert observed["Accepted"][:2] == observed["Ready"][:2] == ("False", "NameTaken")
    assert workers.removed == [("ml", NAME)]
    assert result.status_updates == {"workers": 0}
