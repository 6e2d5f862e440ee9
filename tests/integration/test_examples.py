"""examples/ runs as it is: the API server takes every manifest (and the data loader's), and
every series the example Rollout reads - its built-in guardrails, its own queries, its A/B
counters - is one the serving layer exports for the example SeldonDeployment."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from paved.adapters.traffic import seldon_v1
from paved.api.rollout import BuiltinGuardrail, RolloutSpec
from paved.core.pipeline_contract import check, parse
from paved_local.dataplane.routing import route_of
from paved_local.dataplane.server import Metrics
from tests.support.kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}")
MATCHER = re.compile(r'([a-zA-Z_]\w*)\s*(=~|!~|!=|=)\s*"([^"]*)"')
Sample = tuple[str, dict[str, str]]


@pytest.mark.usefixtures("paved_crds")
def test_the_api_server_takes_every_example(kubectl: Kubectl, namespace: str) -> None:
    applied = kubectl.run(
        "apply", "--dry-run=server", "-n", namespace, "-f", str(EXAMPLES), "-o", "name"
    )

    assert sorted(applied.stdout.split()) == [
        "batchprediction.paved.dev/churn-scores",
        "featureview.paved.dev/user-activity-v1",
        "modelmonitor.paved.dev/churn",
        "modelversion.paved.dev/churn-v1",
        "rollout.paved.dev/churn-v1",
        "seldondeployment.machinelearning.seldon.io/churn",
        "streamingprediction.paved.dev/churn-on-activity",
    ]


def test_the_api_server_takes_the_data_loader(kubectl: Kubectl, namespace: str) -> None:
    manifest = kubectl.run("kustomize", str(EXAMPLES / "data")).stdout
    applied = kubectl.apply(manifest, "--dry-run=server", "-n", namespace, "-o", "yaml")

    (config_map, job) = yaml.safe_load(applied.stdout)["items"]
    volumes = {v["name"]: v for v in job["spec"]["template"]["spec"]["volumes"]}
    assert volumes["script"]["configMap"]["name"] == config_map["metadata"]["name"]
    assert "def main()" in config_map["data"]["load.py"]


@pytest.mark.usefixtures("paved_crds")
@pytest.mark.parametrize("example", ["team-pipeline", "ranking-pipeline"])
def test_the_api_server_takes_a_team_pipeline_and_its_configmap_meets_the_contract(
    kubectl: Kubectl, namespace: str, example: str
) -> None:
    manifest = kubectl.run("kustomize", str(EXAMPLES / example)).stdout
    applied = kubectl.apply(manifest, "--dry-run=server", "-n", namespace, "-o", "yaml")

    by_kind = {item["kind"]: item for item in yaml.safe_load(applied.stdout)["items"]}
    config_map, model_version = by_kind["ConfigMap"], by_kind["ModelVersion"]
    reference = model_version["spec"]["pipeline"]["compiled"]
    assert reference == {"configMap": config_map["metadata"]["name"], "key": "pipeline.yaml"}
    ir = parse(config_map["data"][reference["key"]])
    assert isinstance(ir, Mapping)
    assert check(ir) == ()


def _exported(namespace: str, deployment: dict[str, Any], rollout: RolloutSpec) -> list[Sample]:
    """The data plane's /metrics for `deployment` once paved has added the candidate's and the
    shadow's predictors and each has answered (the score histogram starts at a prediction)."""
    target = rollout.target.seldon_deployment
    assert target is not None
    served = copy.deepcopy(deployment)
    served["metadata"]["namespace"] = namespace
    (baseline,) = served["spec"]["predictors"]
    for name, shadow in ((target.candidate_predictor, False), (target.shadow_predictor, True)):
        copied = {**baseline, "name": name, "shadow": shadow, "traffic": 0}
        served["spec"]["predictors"].append(copied)
    route = route_of(served)
    metrics = Metrics()
    metrics.start_at_zero(route)
    for predictor in [*route.live, *([route.shadow] if route.shadow else [])]:
        metrics.scores.labels(**metrics.labels(route, predictor)).observe(0.5)
    text = generate_latest(metrics.registry).decode()
    return [
        (sample.name, sample.labels)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _queries(namespace: str, rollout: RolloutSpec) -> list[str]:
    """Every PromQL the operator asks of Prometheus for this Rollout, as the Seldon router
    writes it for each arm, and the Rollout's own."""
    target = rollout.target.seldon_deployment
    assert target is not None
    arms = [target.baseline_predictor, target.candidate_predictor]
    queries = [g.query for g in rollout.guardrails if g.query]
    for guardrail in [g for g in rollout.guardrails if g.builtin]:
        builtin = BuiltinGuardrail(guardrail.builtin)
        for arm in arms:
            read = seldon_v1.builtin_queries(builtin, namespace, target.name, arm, "1m")
            queries += [read.value, read.samples]
    for step in [s.ab_test for s in rollout.steps if s.ab_test]:
        for counter in (step.metric, step.trials):
            queries += [
                seldon_v1.counter_increase(counter, namespace, target.name, arm, 60) for arm in arms
            ]
    return queries


def _matches(sample: Sample, name: str, matchers: str) -> bool:
    exported, labels = sample
    if exported != name:
        return False
    for label, operator, value in MATCHER.findall(matchers):
        have = labels.get(label)
        match operator:
            case "=":
                ok = have == value
            case "!=":
                ok = have != value
            case "=~":
                ok = have is not None and re.fullmatch(value, have) is not None
            case _:
                ok = have is None or re.fullmatch(value, have) is None
        if not ok:
            return False
    return True


def test_every_series_the_example_rollout_reads_is_one_the_data_plane_exports() -> None:
    namespace = "team-a"
    deployment = yaml.safe_load((EXAMPLES / "00-seldondeployment.yaml").read_text())
    rollout = RolloutSpec.model_validate(
        yaml.safe_load((EXAMPLES / "03-rollout.yaml").read_text())["spec"]
    )
    exported = _exported(namespace, deployment, rollout)

    queries = _queries(namespace, rollout)
    assert any(g.query for g in rollout.guardrails)  # the Rollout's own query is checked too
    for query in queries:
        selectors = SELECTOR.findall(query)
        assert selectors, f"no series named in {query}"
        for name, matchers in selectors:
            assert any(_matches(s, name, matchers) for s in exported), (
                f"nothing exported matches {name}{{{matchers}}} (in {query})"
            )
