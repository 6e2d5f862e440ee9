"""The ranking example end to end: a `task: ranking` ModelVersion names the team's LightGBM
LambdaRank pipeline by reference (its IR in a ConfigMap); paved joins the items' features to
the graded clicks point in time, runs the team's ranker, judges it per query on NDCG@10 and
registers it; the registered ranker, served, ranks a candidate list per request."""

from __future__ import annotations

import yaml

from paved_local.platform import Endpoints
from tests.e2e.test_team_pipeline_trains_and_is_gated import _config_map
from tests.support.conditions import wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.ranking_data import write_ranking_data
from tests.support.rankings import rank_candidates, serve_search
from tests.support.training import ROOT, example

MV = "modelversion.paved.dev"
EXAMPLE = ROOT / "examples" / "ranking-pipeline"


def _apply_example(paved_operator: RunningOperator, kubectl: Kubectl, namespace: str) -> None:
    """The example's FeatureView, ConfigMap and ModelVersion, over `write_ranking_data`'s files
    under <data root>/<namespace>/."""
    write_ranking_data(paved_operator.data_root / namespace)
    view = example("ranking-pipeline/featureview.yaml")
    view["spec"]["source"]["path"] = "items/*.parquet"
    view["spec"]["materialization"]["enabled"] = False
    model = example("ranking-pipeline/modelversion.yaml")
    model["spec"]["labels"]["path"] = "search_labels.parquet"
    ir = (EXAMPLE / "search-lambdarank.yaml").read_text()
    kubectl.apply(_config_map("search-lambdarank", ir), "-n", namespace)
    kubectl.apply(yaml.safe_dump_all([view, model]), "-n", namespace)


def test_a_ranker_trains_by_reference_passes_its_ndcg_gate_and_ranks_what_it_is_served(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    _apply_example(paved_operator, kubectl, namespace)

    staged = wait_for_condition(
        kubectl, MV, "search-ranker-v1", namespace, "GatesPassed", "True", timeout=300
    )
    status = staged["status"]
    assert (status["phase"], status["stage"]) == ("Staging", "Staging")
    (metric,) = [g for g in status["gates"] if g["name"] == "metric:ndcg@10"]
    assert metric["verdict"] == "pass", metric
    assert status["lineage"]["metrics"]["ndcg@10"] > 0.7

    serve_search(kubectl, endpoints.dataplane, namespace, status["registry"]["uri"])
    for items in (["dull", "loved"], ["loved", "dull"]):
        answer = rank_candidates(endpoints.dataplane, namespace, items).json()
        assert answer["data"]["ndarray"] == ["loved", "dull"]
