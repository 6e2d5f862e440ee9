"""The data plane's memory of interleaved lists: clicks attributed once, to the right arm."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from paved.core.interleaving import Interleaved, Preference, Team
from paved_local.dataplane.interleaving import (
    ClicksRequest,
    Interleavings,
    RankingRequest,
    UnknownQueryError,
    ranking,
)
from paved_local.dataplane.routing import route_of

ROUTE = route_of(
    {
        "metadata": {"name": "search", "namespace": "ml"},
        "spec": {
            "annotations": {"paved.dev/interleave": "candidate"},
            "predictors": [
                {"name": "baseline", "traffic": 50, "graph": {"modelUri": "s3://m/1"}},
                {"name": "candidate", "traffic": 50, "graph": {"modelUri": "s3://m/2"}},
            ],
        },
    }
)
SHOWN = Interleaved(("b", "a", "c"), (Team.CANDIDATE, Team.BASELINE, Team.CANDIDATE))


def _count(registry: CollectorRegistry, outcome: str) -> float | None:
    labels = {
        "namespace": "ml",
        "deployment_name": "search",
        "predictor_name": "candidate",
        "outcome": outcome,
    }
    return registry.get_sample_value("paved_interleaved_queries_total", labels)


def test_a_querys_clicks_are_counted_once_for_the_candidate() -> None:
    registry = CollectorRegistry()
    memory = Interleavings(registry)
    memory.start_at_zero(ROUTE)
    assert _count(registry, "win") == 0
    memory.remember(ROUTE, "q1", SHOWN)
    assert memory.attribute(ROUTE, "q1", [0, 2]) is Preference.WIN
    assert _count(registry, "win") == 1
    with pytest.raises(UnknownQueryError, match="already attributed"):
        memory.attribute(ROUTE, "q1", [1])
    assert _count(registry, "loss") == 0


def test_a_click_outside_the_list_is_refused_and_the_list_kept() -> None:
    memory = Interleavings(CollectorRegistry())
    memory.remember(ROUTE, "q1", SHOWN)
    with pytest.raises(ValueError, match=r"\[3\] are outside the 3 items"):
        memory.attribute(ROUTE, "q1", [3])
    assert memory.attribute(ROUTE, "q1", [1]) is Preference.LOSS


def test_only_the_most_recent_lists_are_kept() -> None:
    memory = Interleavings(CollectorRegistry(), capacity=2)
    for request in ("q1", "q2", "q3"):
        memory.remember(ROUTE, request, SHOWN)
    with pytest.raises(UnknownQueryError):
        memory.attribute(ROUTE, "q1", [])
    assert memory.attribute(ROUTE, "q3", []) is Preference.TIE


def test_a_ranking_is_by_score_best_first_ties_in_request_order() -> None:
    assert ranking(["a", "b", "c", "d"], [0.2, 0.9, 0.2, 0.5]) == ["b", "d", "a", "c"]


def test_a_ranking_request_names_each_row_once() -> None:
    rows = {"data": {"names": ["x"], "ndarray": [[1], [2]]}}
    assert RankingRequest.model_validate(rows).items() == ["0", "1"]
    named = {**rows, "meta": {"tags": {"items": ["a", "b"]}}}
    assert RankingRequest.model_validate(named).items() == ["a", "b"]
    with pytest.raises(ValueError, match="names 1 items for 2 rows"):
        RankingRequest.model_validate({**rows, "meta": {"tags": {"items": ["a"]}}}).items()
    with pytest.raises(ValueError, match="an item twice"):
        RankingRequest.model_validate({**rows, "meta": {"tags": {"items": ["a", "a"]}}}).items()
    with pytest.raises(ValueError, match="0 or more"):
        ClicksRequest.model_validate({"puid": "q", "clicked": [-1]})
