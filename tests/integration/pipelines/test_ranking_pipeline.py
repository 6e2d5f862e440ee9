"""The ranking example (a team's LightGBM LambdaRank pipeline) between paved's steps, through
KFP's local runner, against the local MLflow: the query column carried from the labels to the
evaluation rows, so paved's NDCG@10 gate judges the ranker per query."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
from kfp import local

from paved.adapters.registry.mlflow import MlflowRegistry
from paved_local.platform import Endpoints
from paved_pipelines.team import around, checked_component
from tests.support.ranking_data import write_ranking_data
from tests.support.training import NAMESPACE, ranking_request

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "ranking-pipeline" / "search-lambdarank.yaml"


@pytest.fixture(scope="module")
def search_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("search")
    write_ranking_data(root / NAMESPACE)
    return root


@pytest.fixture
def run_ranker(
    search_root: Path, endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", endpoints.mlflow)
    mlflow.set_tracking_uri(endpoints.mlflow)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))
    pipeline = around(checked_component(EXAMPLE.read_text(), "the ranking example"))

    def run(run_key: str, min_ndcg: float) -> dict[str, Any]:
        request = ranking_request(search_root, run_key, min_ndcg=min_ndcg)
        outcome: dict[str, Any] = json.loads(pipeline(request=request.model_dump_json()).output)
        return outcome

    return run


def _metric_verdict(outcome: dict[str, Any]) -> dict[str, Any]:
    (verdict,) = [v for v in outcome["verdicts"] if v["gate"] == "metric:ndcg@10"]
    return verdict


def test_the_ranker_passes_its_ndcg_gate_registers_and_scores_candidates(
    run_ranker: Any, endpoints: Endpoints
) -> None:
    run_key = f"uid-{uuid.uuid4().hex[:8]}-ranker"

    outcome = run_ranker(run_key, 0.7)

    # paved measured NDCG@10 per query on the team's held-out queries, and the gate passed.
    assert outcome["passed"] is True
    assert outcome["metrics"]["ndcg@10"] > 0.7
    assert 0 < outcome["metrics"]["map@10"] <= 1
    assert _metric_verdict(outcome)["verdict"] == "pass"
    registry = MlflowRegistry(endpoints.mlflow)
    version = asyncio.run(registry.register("search", outcome["mlflowRunId"], run_key, {}))
    served = mlflow.pyfunc.load_model(f"models:/search/{version.version}")
    # Loaded as a model server loads it: one score per candidate, the more appealing higher.
    candidates = pd.DataFrame(
        {
            "rating": [1.0, 4.8],
            "reviews": [3, 40],
            "price": [20.0, 20.0],
            "category": ["books", "books"],
        }
    )
    scores = np.asarray(served.predict(candidates), dtype=float)
    assert scores.shape == (2,)
    assert scores[1] > scores[0]


def test_a_ranker_below_its_ndcg_floor_is_held_naming_the_metric(run_ranker: Any) -> None:
    outcome = run_ranker(f"uid-{uuid.uuid4().hex[:8]}-held", 0.999)

    assert outcome["passed"] is False
    verdict = _metric_verdict(outcome)
    assert verdict["verdict"] == "fail"
    assert "ndcg@10" in verdict["message"]
