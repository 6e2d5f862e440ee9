"""Ranking: each query's items ordered by score, judged on their relevance grades.

Both metrics are means over queries of a per-query value at cut-off k. A query with no relevant
item cannot tell a good order from a bad one and is left out; with none left, the metric is too.
Items of equal score keep the order they came in (a stable sort), so a result never depends on
the sort's whim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from paved.api.tasks import MetricName, metric_key
from paved.core.metrics.scored import Scored

PerQuery = Callable[[NDArray[np.float64], NDArray[np.float64], int], float | None]


def _by_query(
    queries: NDArray[Any], relevance: NDArray[Any], score: NDArray[np.float64]
) -> Iterator[tuple[NDArray[np.float64], NDArray[np.float64]]]:
    """Each query's grades and scores, in the order its rows came: one sort, not a pass over
    every row per query (a holdout has thousands of queries)."""
    order = np.argsort(queries, kind="stable")
    _, starts = np.unique(queries[order], return_index=True)
    for rows in np.split(order, starts[1:]):
        yield relevance[rows].astype(np.float64), score[rows]


def dcg(gains: NDArray[np.float64], k: int) -> float:
    """Discounted cumulative gain of grades in ranked order: (2^grade - 1) / log2(rank + 1)."""
    top = gains[:k]
    return float(np.sum((2**top - 1) / np.log2(np.arange(2, top.size + 2))))


def query_ndcg(relevance: NDArray[np.float64], score: NDArray[np.float64], k: int) -> float | None:
    ideal = dcg(np.sort(relevance)[::-1], k)
    if ideal == 0:
        return None
    return dcg(relevance[np.argsort(-score, kind="stable")], k) / ideal


def query_average_precision(
    relevance: NDArray[np.float64], score: NDArray[np.float64], k: int
) -> float | None:
    """AP@k: the precision at each relevant item's rank within the top k, summed, over the
    relevant items the top k could hold (min(k, relevant))."""
    relevant = relevance > 0
    total = int(relevant.sum())
    if total == 0:
        return None
    hits = relevant[np.argsort(-score, kind="stable")][:k]
    precision = np.cumsum(hits) / np.arange(1, hits.size + 1)
    return float(np.sum(precision * hits) / min(k, total))


def mean_over_queries(per_query: PerQuery, scored: Scored) -> float | None:
    if scored.queries is None:
        raise ValueError("a ranking metric needs each row's query")
    values = [
        v
        for relevance, score in _by_query(scored.queries, scored.labels, scored.predictions)
        if (v := per_query(relevance, score, scored.k)) is not None
    ]
    return float(np.mean(values)) if values else None


def measure(scored: Scored) -> dict[str, float]:
    result = {}
    for name, per_query in (
        (MetricName.NDCG, query_ndcg),
        (MetricName.MAP, query_average_precision),
    ):
        value = mean_over_queries(per_query, scored)
        if value is not None:
            result[metric_key(name, scored.k)] = value
    return result
