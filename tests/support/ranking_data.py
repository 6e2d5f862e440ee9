"""A small synthetic search data set: items with features, and queries each showing a list of
candidate items with graded relevance (0 skipped, 1 clicked, 2 clicked and bought).

An item's relevance rises with its hidden appeal, which its features show through noise, so a
ranker can learn to order a query's candidates; a random order scores far lower NDCG@10.
Seeded: the same arguments write the same files.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from paved_local.dataplane.load import Example

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
UTC = pa.timestamp("us", tz="UTC")
CATEGORIES = np.array(["books", "games", "music", "tools"])


def write_ranking_data(
    root: Path,
    *,
    items: int = 300,
    queries: int = 240,
    per_query: int = 15,
    seed: int = 5,
    labels_file: str = "search_labels.parquet",
) -> None:
    """`<root>/items/part-0.parquet` (the FeatureView's source, one row per item as of the
    start) and `<root>/<labels_file>`: a row per (query, candidate), each query at its own
    time, so (item, time) is unique across queries as the join's entity rows need."""
    rng = np.random.default_rng(seed)
    appeal = rng.normal(0, 1, items)
    _write_items(root, appeal, rng)
    query_ids, item_ids, stamps, relevance = [], [], [], []
    for query in range(queries):
        shown = rng.choice(items, per_query, replace=False)
        # Graded by appeal plus the query's taste: some candidates are relevant in every query.
        utility = appeal[shown] + rng.normal(0, 0.6, per_query)
        grades = np.digitize(utility, [0.6, 1.4])
        at = START + dt.timedelta(days=1, minutes=30 * query)
        query_ids += [f"q{query:04d}"] * per_query
        item_ids += shown.tolist()
        stamps += [at] * per_query
        relevance += grades.tolist()
    labels = pa.table(
        {
            "query_id": pa.array(query_ids, pa.string()),
            "item_id": pa.array(item_ids, pa.int64()),
            "ts": pa.array(stamps, UTC),
            "relevance": pa.array(relevance, pa.int64()),
        }
    )
    pq.write_table(labels, root / labels_file)


def _write_items(root: Path, appeal: np.ndarray, rng: np.random.Generator) -> None:
    count = len(appeal)
    directory = root / "items"
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "item_id": pa.array(np.arange(count), pa.int64()),
            "event_timestamp": pa.array([START] * count, UTC),
            "created_at": pa.array([START + dt.timedelta(minutes=5)] * count, UTC),
            "rating": pa.array(np.clip(3 + appeal + rng.normal(0, 0.5, count), 0, 5)),
            "reviews": pa.array(rng.poisson(np.exp(2 + 0.5 * appeal)), pa.int64()),
            "price": pa.array(np.round(rng.gamma(2.0, 10.0, count), 2)),
            "category": pa.array(CATEGORIES[rng.integers(0, 4, count)], pa.string()),
        }
    )
    pq.write_table(table, directory / "part-0.parquet")


def item_examples(root: Path, labels_file: str = "search_labels.parquet") -> list[Example]:
    """Each item of `write_ranking_data`'s files as a candidate a user can be shown: its
    features as the FeatureView serves them, labelled 1 when the searches that showed it graded
    it relevant on average (what users click)."""
    items = pq.read_table(root / "items" / "part-0.parquet")
    graded = (
        pq.read_table(root / labels_file).group_by("item_id").aggregate([("relevance", "mean")])
    )
    relevant = set(
        pc.filter(graded["item_id"], pc.greater_equal(graded["relevance_mean"], 1.0)).to_pylist()
    )
    names = ["rating", "reviews", "price", "category"]
    return [
        Example({name: row[name] for name in names}, int(row["item_id"] in relevant))
        for row in items.to_pylist()
    ]
