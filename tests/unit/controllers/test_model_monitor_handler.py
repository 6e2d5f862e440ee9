"""The ModelMonitor's handler called as kopf calls it: with no production version it says so and
judges nothing; on a served production version its guardrails are read on the production arm,
and a breach is GuardrailBreached=True with a Warning event and the gauge at 1; its live AUC,
read from the prediction log joined to Seldon feedback's truth, is judged against the version's
at training."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from prometheus_client import REGISTRY

from paved.adapters.offline.labels import ParquetLabels
from paved.adapters.prediction_log import parquet
from paved.adapters.prediction_log.parquet import ParquetPredictionLog
from paved.api.crds import MODEL_MONITOR
from paved.api.model_version import ModelVersionSpec, Stage
from paved.controllers.model_monitor import watch_model
from paved.core.model_versions import RegisteredVersion
from paved.core.monitor_actions import LABELS_ANNOTATION
from paved.core.prediction_log import Outcome, OutcomeKind, Prediction
from paved.core.rollout_steps import Traffic
from tests.support.adapter import Event, Kopf, body, recorded_events
from tests.support.adapter import Outcome as Reconciled
from tests.support.scripted_ports import Metrics, Registry, Router, indices, scripted_ports
from tests.support.training import example

__all__ = ["recorded_events"]  # the fixture, for pytest

SPEC: dict[str, Any] = {
    "model": "churn",
    "target": {"seldonDeployment": {"name": "churn"}},
    "minSamples": 100,
    "guardrails": {"window": "5m", "rules": [{"builtin": "errorRate", "max": 0.01}]},
}
PRODUCTION = RegisteredVersion(
    "ml.churn",
    "3",
    "run",
    "s3://paved/3/model",
    Stage.PRODUCTION,
    {"paved.model_version": "ml/churn-v3"},
)


@dataclass
class ServingRegistry(Registry):
    """A registry whose production version is `production`."""

    production: RegisteredVersion | None = None

    async def in_stage(self, _model: str, stage: Stage) -> RegisteredVersion | None:
        return self.production if stage is Stage.PRODUCTION else None


def _monitor(tmp_path: Path, events: list[Event], registry: Registry, metrics: Metrics) -> Kopf:
    ports = replace(
        scripted_ports(str(tmp_path), metrics),
        registry=registry,
        routers=Router(traffic=Traffic(0, 100)),  # the target serves production alone
    )
    return Kopf(MODEL_MONITOR, watch_model, ports, events)


async def test_without_a_production_version_nothing_is_judged(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    monitor = _monitor(tmp_path, recorded_events, ServingRegistry(), Metrics())

    outcome = await monitor.call(body(MODEL_MONITOR, SPEC))

    watching = outcome.condition("Watching")
    assert (watching["status"], watching["reason"]) == ("False", "NoProductionVersion")
    assert watching["message"] == "ml.churn has no production version."
    assert outcome.condition("GuardrailBreached")["status"] == "Unknown"
    assert outcome.condition("Healthy")["status"] == "Unknown"
    assert Event("Warning", "NoProductionVersion", watching["message"]) in outcome.events


async def test_a_guardrail_breached_on_the_production_arm_alarms(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    def reading(query: str) -> float:
        assert "(baseline)" in query  # the production arm: the target's baseline
        return 500.0 if query.startswith("sum(increase(requests") else 0.05

    registry = ServingRegistry(production=PRODUCTION)
    monitor = _monitor(tmp_path, recorded_events, registry, Metrics(reading))

    outcome = await monitor.call(body(MODEL_MONITOR, SPEC))

    breached = outcome.condition("GuardrailBreached")
    assert (breached["status"], breached["reason"]) == ("True", "GuardrailBreached")
    assert breached["message"] == "errorRate 0.05 > 0.01"
    assert outcome.condition("Watching")["message"] == "Watching ml.churn v3 (churn-v3)."
    assert outcome.condition("Healthy")["status"] == "False"
    assert Event("Warning", "GuardrailBreached", "errorRate 0.05 > 0.01") in outcome.events
    labels = {"namespace": "ml", "model_monitor": "subject", "check": "GuardrailBreached"}
    assert REGISTRY.get_sample_value("paved_monitor_check", labels) == 1


def _log_served_and_judged(data_root: Path, *, right: int, wrong: int) -> None:
    """Predictions of v3 an hour ago, each judged by Seldon feedback's truth: `right` of them
    ranked the churner above the stayer, `wrong` the other way round. The right ones were new
    users (tenure_days 30, the version's `new_users` slice), the wrong ones old."""
    at = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    records: list[parquet.Record] = []
    pairs = [(0.8, 1.0, 30), (0.2, 0.0, 30)] * right + [(0.2, 1.0, 400), (0.8, 0.0, 400)] * wrong
    for n, (score, truth, tenure) in enumerate(pairs):
        prediction = Prediction(f"r{n}", f'{{"user_id":{n}}}', at, "3", score)
        seen = {"tenure_days": tenure}
        records.append(parquet.PredictionRecord("ml", "churn", "main", prediction, seen))
        outcome = Outcome(OutcomeKind.FEEDBACK, f"r{n}", truth, at, at)
        records.append(parquet.OutcomeRecord("ml", "churn", outcome))
    parquet.write(str(data_root), records)


async def test_live_auc_below_the_one_at_training_alarms_on_the_joined_log(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    _log_served_and_judged(tmp_path, right=60, wrong=40)  # AUC 0.6 live
    lineage = {"metrics": {"auc": 0.8}, "sliceMetrics": {"new_users": 0.75}}
    trained = example("02-modelversion.yaml") | {"status": {"lineage": lineage}}
    ports = replace(
        scripted_ports(str(tmp_path)),
        registry=ServingRegistry(production=PRODUCTION),
        routers=Router(traffic=Traffic(0, 100)),
        prediction_log=ParquetPredictionLog(str(tmp_path)),
    )
    spec = {**SPEC, "guardrails": None, "performance": {"minLabels": 100}}
    monitor = Kopf(MODEL_MONITOR, watch_model, ports, recorded_events)

    outcome = await monitor.call(
        body(MODEL_MONITOR, spec), indices=indices(("ModelVersion", "churn-v3", trained))
    )

    dropped = outcome.condition("PerformanceDropped")
    message = "auc 0.6000 live on 200 judged predictions vs 0.8000 at training: worse by 0.2000"
    assert (dropped["status"], dropped["reason"]) == ("True", "PerformanceDropped")
    assert dropped["message"].startswith(message)
    overall, new_users, today = outcome.patch["status"]["performance"]
    assert (overall["value"], overall["judged"], today["judged"]) == (0.6, 200, 200)
    # The version's slice gate, read live on the features served: the new users were all
    # ranked right (and the gauge is every prediction's AUC, not a slice's).
    assert (new_users["slice"], new_users["judged"], new_users["value"]) == ("new_users", 120, 1.0)
    assert new_users["trained"] == 0.75
    labels = {"namespace": "ml", "model_monitor": "subject", "metric": "auc"}
    assert REGISTRY.get_sample_value("paved_monitor_metric", labels) == 0.6


@dataclass
class Created:
    """A `ModelVersionCreator` that keeps what it was asked to create."""

    specs: dict[str, ModelVersionSpec] = field(default_factory=dict)
    annotations: dict[str, Mapping[str, str]] = field(default_factory=dict)

    async def create(
        self,
        _namespace: str,
        name: str,
        spec: ModelVersionSpec,
        *,
        labels: Mapping[str, str],
        annotations: Mapping[str, str],
    ) -> bool:
        del labels
        self.specs[name], self.annotations[name] = spec, annotations
        return True


def _retraining_monitor(tmp_path: Path, events: list[Event], created: Created) -> Kopf:
    ports = replace(
        scripted_ports(str(tmp_path)),
        registry=ServingRegistry(production=PRODUCTION),
        routers=Router(traffic=Traffic(0, 100)),
        prediction_log=ParquetPredictionLog(str(tmp_path)),
        labels=ParquetLabels(str(tmp_path)),
        model_versions=created,
    )
    return Kopf(MODEL_MONITOR, watch_model, ports, events)


def _retraining_spec(min_labels: int) -> dict[str, Any]:
    template = {k: v for k, v in example("02-modelversion.yaml")["spec"].items() if k != "model"}
    retrain = {
        "when": ["PerformanceDropped"],
        "template": template,
        "labelsFrom": "predictionLog",
        "minLabels": min_labels,
    }
    return {
        **SPEC,
        "guardrails": None,
        "performance": {"minLabels": 100},
        "actions": {"retrain": retrain},
    }


# The performance alarm as the check before left it: held at this tick, it triggers.
ALARMED = {
    "conditions": [
        {
            "type": "PerformanceDropped",
            "status": "True",
            "reason": "PerformanceDropped",
            "message": "auc 0.6 live",
            "lastTransitionTime": "2026-12-05T08:00:00Z",
        }
    ]
}


async def _retraining_tick(
    tmp_path: Path, events: list[Event], *, min_labels: int
) -> tuple[Reconciled, Created]:
    """One tick of a monitor whose performance alarm holds, over 200 judged predictions."""
    _log_served_and_judged(tmp_path, right=60, wrong=40)
    trained = example("02-modelversion.yaml") | {"status": {"lineage": {"metrics": {"auc": 0.8}}}}
    created = Created()
    outcome = await _retraining_monitor(tmp_path, events, created).call(
        body(MODEL_MONITOR, _retraining_spec(min_labels=min_labels), ALARMED),
        indices=indices(("ModelVersion", "churn-v3", trained)),
    )
    return outcome, created


async def test_a_retraining_trains_on_the_logged_predictions_labels(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    outcome, created = await _retraining_tick(tmp_path, recorded_events, min_labels=150)

    (name,) = created.specs
    labels = created.specs[name].labels
    assert labels.path == f"retrained/subject/{name}.parquet"
    assert (labels.entity_columns, labels.label) == (["user_id"], "churned")
    written = pq.read_table(tmp_path / "ml" / labels.path)
    assert written.num_rows == 200
    assert set(written.column("churned").to_pylist()) == {0, 1}
    assert created.annotations[name][LABELS_ANNOTATION].startswith("200 labelled predictions")
    assert outcome.condition("Retraining")["reason"] == "RetrainStarted"


async def test_too_few_labelled_predictions_train_nothing_and_say_so(
    tmp_path: Path, recorded_events: list[Event]
) -> None:
    outcome, created = await _retraining_tick(tmp_path, recorded_events, min_labels=500)

    assert created.specs == {}
    retraining = outcome.condition("Retraining")
    assert (retraining["status"], retraining["reason"]) == ("False", "TooFewSamples")
    assert retraining["message"].startswith("200 labelled predictions in the last 7d < 500 needed")
    assert "retraining" not in outcome.patch["status"]
