"""The ranking example (a team's LightGBM LambdaRank pipeline) between paved's steps, through
KFP's local runner, against the local MLflow: the query column carried from the labels to the
evaluation rows, so paved's NDCG@10 gate judges the ranker per query; the registered ranker
served by the local data plane, ranking a candidate list per request."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import mlflow
import pytest
from kfp import local

from paved.adapters.registry.mlflow import MlflowRegistry
from paved_local.platform import Endpoints
from paved_pipelines.team import around, checked_component
from tests.support.kubectl import Kubectl
from tests.support.ranking_data import write_ranking_data
from tests.support.rankings import rank_candidates, serve_search
from tests.support.training import NAMESPACE, ranking_request

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "examples" / "ranking-pipeline" / "search-lambdarank.yaml"
Outcome = dict[str, Any]


@pytest.fixture(scope="module")
def run_ranker(
    endpoints: Endpoints, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[str, float], Outcome]]:
    """Runs the example on the synthetic search data, its NDCG@10 floor as given."""
    data = tmp_path_factory.mktemp("search")
    write_ranking_data(data / NAMESPACE)
    root = tmp_path_factory.mktemp("runs")
    pipeline = around(checked_component(EXAMPLE.read_text(), "the ranking example"))

    def run(run_key: str, min_ndcg: float) -> Outcome:
        request = ranking_request(data, run_key, min_ndcg=min_ndcg)
        outcome: Outcome = json.loads(pipeline(request=request.model_dump_json()).output)
        return outcome

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", endpoints.mlflow)
        mlflow.set_tracking_uri(endpoints.mlflow)
        local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(root))
        yield run


@pytest.fixture(scope="module")
def passed(run_ranker: Callable[[str, float], Outcome], endpoints: Endpoints) -> Outcome:
    """A run whose NDCG@10 gate is at 0.7, registered when it passed (its `modelUri`)."""
    run_key = f"uid-{uuid.uuid4().hex[:8]}-ranker"
    outcome = run_ranker(run_key, 0.7)
    if outcome["passed"]:
        registry = MlflowRegistry(endpoints.mlflow)
        version = asyncio.run(registry.register("search", outcome["mlflowRunId"], run_key, {}))
        outcome["modelUri"] = version.uri
    return outcome


def _metric_verdict(outcome: Outcome) -> dict[str, Any]:
    (verdict,) = [v for v in outcome["verdicts"] if v["gate"] == "metric:ndcg@10"]
    return verdict


def test_the_ranker_passes_its_ndcg_gate_measured_per_query_and_registers(
    passed: Outcome,
) -> None:
    # paved measured NDCG@10 per query on the team's held-out queries, and the gate passed.
    assert passed["passed"] is True
    assert passed["metrics"]["ndcg@10"] > 0.7
    assert 0 < passed["metrics"]["map@10"] <= 1
    assert _metric_verdict(passed)["verdict"] == "pass"
    assert passed["lineage"]["rows"] == 3600
    assert passed["modelUri"].startswith("s3://")  # registered: where its files are


def test_a_ranker_below_its_ndcg_floor_is_held_naming_the_metric(
    run_ranker: Callable[[str, float], Outcome],
) -> None:
    outcome = run_ranker(f"uid-{uuid.uuid4().hex[:8]}-held", 0.999)

    assert outcome["passed"] is False
    verdict = _metric_verdict(outcome)
    assert verdict["verdict"] == "fail"
    assert "ndcg@10" in verdict["message"]


def test_the_registered_ranker_serves_a_candidate_list_ranked_per_request(
    passed: Outcome, endpoints: Endpoints, kubectl: Kubectl, namespace: str
) -> None:
    serve_search(kubectl, endpoints.dataplane, namespace, passed["modelUri"])

    # Whatever order the candidates come in, the one the ranker scores higher comes first.
    for items in (["dull", "loved"], ["loved", "dull"]):
        answer = rank_candidates(endpoints.dataplane, namespace, items).json()
        assert answer["data"]["ndarray"] == ["loved", "dull"]
        assert answer["meta"]["tags"] == {"predictor": "baseline"}
