"""The Grafana dashboards the chart ships: one ConfigMap each for Grafana's sidecar, every query
one the real Prometheus accepts, reading only series paved exports, and the Rollout panels
showing exactly what the guardrails judge."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client.metrics import MetricWrapperBase

from paved import observability
from paved.adapters.traffic.seldon_v1 import builtin_queries
from paved.api.rollout import BuiltinGuardrail
from paved_local.dataplane.server import Metrics
from paved_local.platform import Endpoints
from paved_local.toolchain import Toolchain

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "paved"
DASHBOARDS = sorted((CHART / "dashboards").glob("*.json"))
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}

# What Grafana puts in place of each variable; a dashboard variable a query uses needs a sample.
GRAFANA_BUILTINS = {"__rate_interval": "1m", "__interval": "1m", "__range": "1h"}
SAMPLES = {
    "namespace": "ml",
    "rollout": "churn",
    "deployment": "churn",
    "predictor": "candidate",
    "feature_view": "user-activity",
    "kind": "FeatureView",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)")
LABEL_VALUES = re.compile(r"^label_values\((?:(.+),\s*)?(\w+)\)$", re.DOTALL)
SERIES = re.compile(r"\b((?:paved|seldon)_\w+)(\{[^}]*\})?")
MATCHER = re.compile(r"(\w+)\s*(?:=~|!~|!=|=)")
GROUPING = re.compile(r"\b(?:by|on|without|ignoring)\s*\(([^)]*)\)")
LEGEND = re.compile(r"\{\{\s*(\w+)\s*\}\}")


@dataclass(frozen=True)
class Query:
    where: str  # "panel title/refId", "annotation name" or "variable name"
    expr: str
    legend: str = ""


def test_the_chart_ships_each_dashboard_as_a_configmap_for_grafanas_sidecar(
    toolchain: Toolchain,
) -> None:
    shipped = dashboard_configmaps(render(toolchain))

    assert sorted(shipped) == [path.name for path in DASHBOARDS]
    for file, configmap in shipped.items():
        assert configmap["metadata"]["namespace"] == "ml"
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
        assert configmap["metadata"]["labels"]["app.kubernetes.io/name"] == "paved"
        assert json.loads(configmap["data"][file]) == load(CHART / "dashboards" / file)


def test_with_dashboards_disabled_the_chart_ships_none(toolchain: Toolchain) -> None:
    assert dashboard_configmaps(render(toolchain, "--set=dashboards.enabled=false")) == {}


def test_a_differently_configured_sidecar_gets_its_label_and_folder(toolchain: Toolchain) -> None:
    shipped = dashboard_configmaps(
        render(
            toolchain,
            "--set-string=dashboards.labels.grafana_dashboard=paved",
            "--set=dashboards.annotations.grafana_folder=ML",
        )
    )

    assert shipped
    for configmap in shipped.values():
        assert configmap["metadata"]["labels"]["grafana_dashboard"] == "paved"
        assert configmap["metadata"]["annotations"] == {"grafana_folder": "ML"}


def test_a_label_that_is_not_a_string_fails_at_install(toolchain: Toolchain) -> None:
    rendered = helm_template(toolchain, "--set=dashboards.labels.grafana_dashboard=1")
    assert rendered.returncode != 0
    assert "at '/dashboards/labels/grafana_dashboard'" in rendered.stderr


def test_dashboards_have_distinct_uids() -> None:
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids) == len(DASHBOARDS) >= 2


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_a_dashboard_is_a_grafana_model_that_reads_only_the_chosen_prometheus(path: Path) -> None:
    dashboard = load(path)

    assert dashboard["schemaVersion"] == 39
    ids = [panel["id"] for panel in panels_of(dashboard)]
    assert len(ids) == len(set(ids)), f"panel ids repeat: {sorted(ids)}"
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    assert list(datasources_in(dashboard)), "no panel names a datasource"
    assert all(source == DATASOURCE for source in datasources_in(dashboard))
    used = {name for query in queries_of(dashboard) for name in variables_in(query.expr)}
    assert used - GRAFANA_BUILTINS.keys() <= variables.keys(), "a query uses an undefined variable"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_prometheus_accepts_every_query_of_a_dashboard(path: Path, endpoints: Endpoints) -> None:
    dashboard = load(path)
    refused = []
    for query in queries_of(dashboard):
        promql = substitute(query.expr)
        if selector := LABEL_VALUES.match(promql):
            series, label = selector.groups()
            params = {"match[]": series} if series else {}
            answer = httpx.get(
                f"{endpoints.prometheus}/api/v1/label/{label}/values", params=params, timeout=10
            )
        else:
            answer = httpx.get(
                f"{endpoints.prometheus}/api/v1/query", params={"query": promql}, timeout=10
            )
        if answer.json()["status"] != "success":
            refused.append(f"{query.where}: {answer.json().get('error')}\n  {promql}")

    assert list(queries_of(dashboard))
    assert not refused, "\n".join(refused)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_a_dashboard_reads_only_series_paved_exports_by_labels_they_have(path: Path) -> None:
    exported = exported_series()
    wrong = []
    for query in queries_of(load(path)):
        found = SERIES.findall(query.expr)
        unknown = [name for name, _ in found if name not in exported]
        if unknown:
            wrong.append(f"{query.where}: paved exports no {unknown}")
            continue
        labels = set().union(*(exported[name] for name, _ in found))
        if selector := LABEL_VALUES.match(query.expr):
            labels_used = {selector.group(2)}
        else:
            labels_used = {label for _, matchers in found for label in MATCHER.findall(matchers)}
            for grouping in GROUPING.findall(query.expr):
                labels_used |= {label.strip() for label in grouping.split(",") if label.strip()}
            labels_used |= set(LEGEND.findall(query.legend))
        if missing := labels_used - labels - {"__name__"}:
            wrong.append(f"{query.where}: no label {sorted(missing)} on {sorted(dict(found))}")

    assert not wrong, "\n".join(wrong)


def test_the_rollouts_dashboard_runs_the_guardrails_own_queries() -> None:
    """A panel per built-in guardrail, for the predictor in view, over Grafana's rate window:
    what the operator judges is what a person sees."""
    shown = {query.expr for query in queries_of(load(CHART / "dashboards" / "paved-rollouts.json"))}
    for builtin in BuiltinGuardrail:
        guardrail = builtin_queries(
            builtin, "$namespace", "$deployment", "$predictor", "$__rate_interval"
        )
        assert guardrail.value in shown, f"no panel shows the {builtin.value} guardrail"


def helm_template(toolchain: Toolchain, *flags: str) -> subprocess.CompletedProcess[str]:
    command = [
        str(toolchain.helm),
        "template",
        "t",
        str(CHART),
        "--namespace=ml",
        "--kube-version=1.36.3",
        *flags,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def render(toolchain: Toolchain, *flags: str) -> list[dict[str, Any]]:
    rendered = helm_template(toolchain, *flags)
    assert rendered.returncode == 0, rendered.stderr
    return [document for document in yaml.safe_load_all(rendered.stdout) if document]


def dashboard_configmaps(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The rendered ConfigMaps that hold a dashboard, by the dashboard's file name."""
    files = {path.name for path in DASHBOARDS}
    return {
        key: item
        for item in objects
        if item["kind"] == "ConfigMap"
        for key in item.get("data", {})
        if key in files
    }


def load(path: Path) -> dict[str, Any]:
    dashboard: dict[str, Any] = json.loads(path.read_text())
    return dashboard


def panels_of(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those inside collapsed rows."""
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def queries_of(dashboard: dict[str, Any]) -> Iterator[Query]:
    for panel in panels_of(dashboard):
        for target in panel.get("targets", []):
            where = f"{panel['title']}/{target['refId']}"
            yield Query(where, target["expr"], target.get("legendFormat", ""))
    for annotation in dashboard["annotations"]["list"]:
        yield Query(f"annotation {annotation['name']}", annotation["expr"])
    for variable in dashboard["templating"]["list"]:
        if variable["type"] == "query":
            yield Query(f"variable {variable['name']}", variable["query"]["query"])


def datasources_in(node: Any) -> Iterator[Any]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            else:
                yield from datasources_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasources_in(item)


def variables_in(expr: str) -> set[str]:
    return {braced or bare for braced, bare in VARIABLE.findall(expr)}


def substitute(expr: str) -> str:
    def sample(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return GRAFANA_BUILTINS.get(name) or SAMPLES.get(name, match.group(0))

    return VARIABLE.sub(sample, expr)


def exported_series() -> dict[str, frozenset[str]]:
    """Series name → label names, for the operator's metrics and the data plane's Seldon ones."""
    metrics = [*vars(observability).values(), *vars(Metrics()).values()]
    series: dict[str, frozenset[str]] = {}
    for metric in metrics:
        if not isinstance(metric, MetricWrapperBase):
            continue
        labels = frozenset(metric._labelnames)  # the names it was declared with
        for family in metric.describe():
            suffixes = {
                "counter": {"_total": labels},
                "gauge": {"": labels},
                "histogram": {"_bucket": labels | {"le"}, "_count": labels, "_sum": labels},
            }[family.type]
            series |= {family.name + suffix: names for suffix, names in suffixes.items()}
    return series
