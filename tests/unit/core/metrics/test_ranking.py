"""Ranking metrics, grouped by query, against hand-computed values and scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from paved.api.tasks import Task
from paved.core.metrics import Scored, measure, ranking

# Query a: three items, the relevant one ranked second; query b: two relevant of three, ranked
# first and third; query c: nothing relevant (left out).
QUERIES = np.array(["a", "a", "a", "b", "b", "b", "c", "c"])
RELEVANCE = np.array([0, 1, 0, 1, 0, 1, 0, 0])
SCORES = np.array([0.9, 0.5, 0.1, 0.8, 0.6, 0.2, 0.3, 0.4])


def test_ndcg_by_hand_averaged_over_queries_with_something_relevant() -> None:
    a = (1 / np.log2(3)) / 1.0
    b = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3))
    scored = Scored(RELEVANCE, SCORES, QUERIES, k=10)
    assert ranking.mean_over_queries(ranking.query_ndcg, scored) == pytest.approx((a + b) / 2)


def test_average_precision_by_hand() -> None:
    a = 1 / 2  # the relevant item at rank 2
    b = (1 / 1 + 2 / 3) / 2  # relevant at ranks 1 and 3
    scored = Scored(RELEVANCE, SCORES, QUERIES, k=10)
    assert ranking.mean_over_queries(ranking.query_average_precision, scored) == pytest.approx(
        (a + b) / 2
    )


def test_the_cut_off_judges_only_each_querys_top_k() -> None:
    measured = measure(Task.RANKING, Scored(RELEVANCE, SCORES, QUERIES, k=1))
    # At k=1 query a's top item is irrelevant (0) and b's is relevant (1).
    assert measured == pytest.approx({"ndcg@1": 0.5, "map@1": 0.5})


def test_graded_relevance_gains_exponentially() -> None:
    relevance, scores = np.array([2.0, 3.0]), np.array([0.9, 0.1])
    ideal = 7 + 3 / np.log2(3)
    assert ranking.query_ndcg(relevance, scores, 10) == pytest.approx((3 + 7 / np.log2(3)) / ideal)


def test_binary_relevance_ndcg_matches_scikit_learn_per_query() -> None:
    rng = np.random.default_rng(3)
    relevance = rng.integers(0, 2, (20, 8))
    relevance[:, 0] = 1  # every query has something relevant
    scores = rng.random((20, 8))
    queries = np.repeat(np.arange(20), 8)
    scored = Scored(relevance.ravel(), scores.ravel(), queries, k=5)
    assert ranking.mean_over_queries(ranking.query_ndcg, scored) == pytest.approx(
        sk.ndcg_score(relevance, scores, k=5)
    )


def test_a_ranking_metric_needs_the_queries() -> None:
    with pytest.raises(ValueError, match="query"):
        measure(Task.RANKING, Scored(RELEVANCE, SCORES))


def test_no_query_with_anything_relevant_leaves_the_metrics_out() -> None:
    assert measure(Task.RANKING, Scored(np.zeros(3), np.ones(3), np.array([1, 1, 2]))) == {}
