"""A ModelVersion's task decides which metrics may judge it: one table, read everywhere."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from paved.api.model_version import ModelVersionSpec
from paved.api.tasks import METRICS, MetricName, Task, higher_is_better, metric_key, metrics_of
from tests.support.training import example

SPEC: dict[str, Any] = example("02-modelversion.yaml")["spec"]


def _spec(task: str | None, metric: dict[str, Any], **labels: Any) -> ModelVersionSpec:
    gates = SPEC["gates"] | {"metric": metric, "golden": []}
    raw = SPEC | {"gates": gates, "labels": SPEC["labels"] | labels}
    return ModelVersionSpec.model_validate(raw if task is None else raw | {"task": task})


def test_a_spec_without_a_task_is_the_binary_classifier_it_always_was() -> None:
    assert ModelVersionSpec.model_validate(SPEC).task is Task.BINARY


def test_every_task_has_metrics_and_every_metric_a_task_and_a_direction() -> None:
    assert all(metrics_of(task) for task in Task)
    assert {m for task in Task for m in metrics_of(task)} == set(MetricName)
    assert [m for m in MetricName if higher_is_better(m)] == [
        MetricName.AUC,
        MetricName.ACCURACY,
        MetricName.MACRO_F1,
        MetricName.NDCG,
        MetricName.MAP,
    ]
    assert {m for m, fit in METRICS.items() if fit.cut_off} == {MetricName.NDCG, MetricName.MAP}


@pytest.mark.parametrize(
    ("task", "metric", "fits"),
    [
        ("regression", {"name": "auc"}, "rmse, mae"),
        ("binary", {"name": "rmse"}, "auc, logLoss, accuracy, brier, expectedCalibrationError"),
        ("multiclass", {"name": "auc"}, "logLoss, accuracy, macroF1"),
    ],
)
def test_a_metric_that_does_not_fit_the_task_is_refused_naming_what_fits(
    task: str, metric: dict[str, Any], fits: str
) -> None:
    with pytest.raises(ValidationError, match=f"does not fit task {task}: use one of {fits}"):
        _spec(task, metric)


def test_each_task_takes_its_own_metrics() -> None:
    assert _spec("regression", {"name": "rmse"}).gates.metric.name is MetricName.RMSE
    assert _spec("multiclass", {"name": "macroF1"}).task is Task.MULTICLASS
    assert _spec(None, {"name": "expectedCalibrationError"}).task is Task.BINARY
    ranker = _spec("ranking", {"name": "ndcg", "k": 5}, queryColumn="user_id")
    assert metric_key(ranker.gates.metric.name, ranker.gates.metric.k) == "ndcg@5"
    assert metric_key(MetricName.MAP, None) == "map@10"
    assert metric_key(MetricName.RMSE, None) == "rmse"


def test_a_ranker_needs_its_query_column_and_only_a_ranker_has_one() -> None:
    with pytest.raises(ValidationError, match="queryColumn"):
        _spec("ranking", {"name": "ndcg"})
    with pytest.raises(ValidationError, match="queryColumn"):
        _spec("regression", {"name": "rmse"}, queryColumn="user_id")


def test_an_epsilon_is_absolute_or_relative() -> None:
    relative = _spec(None, {"name": "auc", "maxRelativeRegression": 0.01})
    assert relative.gates.metric.max_relative_regression == 0.01
    with pytest.raises(ValidationError, match="less than or equal to 1"):
        _spec(None, {"name": "auc", "maxRelativeRegression": 2})


def test_the_api_servers_rule_is_the_same_table() -> None:
    rules = ModelVersionSpec.model_json_schema(by_alias=True)["x-kubernetes-validations"]
    fitting = rules[0]
    assert (
        "self.task == 'regression' && self.gates.metric.name in ['rmse', 'mae']"
        in (fitting["rule"])
    )
    assert fitting["fieldPath"] == ".gates.metric.name"
    assert "regression: rmse, mae" in fitting["message"]
