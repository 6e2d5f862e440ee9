"""paved's steps for a ranker: the training set keeps each row's query, the gates read a team
ranker's scores as they are, and a ranker's metrics reach MLflow under names it accepts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from paved.api.tasks import Task
from paved_pipelines.judging import Served
from paved_pipelines.registry import _mlflow_names
from paved_pipelines.steps import build_training_set
from tests.support.ranking_data import write_ranking_data
from tests.support.training import NAMESPACE, ranking_request


def test_the_training_set_keeps_each_rows_query_beside_its_features(tmp_path: Path) -> None:
    write_ranking_data(tmp_path / NAMESPACE, queries=20, per_query=5)

    joined = build_training_set(ranking_request(tmp_path, "key", min_ndcg=0.5))

    assert joined.num_rows == 100
    queries = joined.column("query_id").to_pylist()
    assert queries[:5] == ["q0000"] * 5
    assert len(set(queries)) == 20


class _Scores:
    """A pyfunc whose `predict` answers one ranking score a row, as a LambdaRank model's does."""

    def predict(self, frame: Any) -> Any:
        return np.asarray(frame["x"], dtype=float) * 3.0


def test_a_rankers_scores_are_judged_as_it_gives_them_not_as_a_class() -> None:
    frame = pd.DataFrame({"x": [-1.0, 0.1, 2.0]})

    ranked = Served(_Scores(), Task.RANKING).predict(frame)
    assert ranked.tolist() == pytest.approx([-3.0, 0.3, 6.0])
    assert Served(_Scores(), Task.BINARY).predict(frame).tolist() == [0, 0, 1]


def test_a_cut_off_metric_is_named_as_mlflow_accepts_it() -> None:
    assert _mlflow_names({"ndcg@10": 0.8, "slice.new.map@5": 0.5, "auc": 0.7}) == {
        "ndcg_at_10": 0.8,
        "slice.new.map_at_5": 0.5,
        "auc": 0.7,
    }
