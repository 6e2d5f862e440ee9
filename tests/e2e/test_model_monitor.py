"""A ModelMonitor watches the demo's churn model in production: while the logged inputs look
like its training set it is healthy; once they drift, InputDrift flips to True, with a Warning
event naming the feature and the operator's gauges saying the same (issue #19, item 2); the
alarm held at the next check trains the next version from the monitor's template, which passes
its gates and waits for a person (item 3). Its performance check reads live AUC from the real
data plane's log joined to Seldon feedback's truth, and alarms once the world turns (ADR 0040)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import yaml

from paved.adapters.prediction_log import parquet
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.api.model_version import Stage
from paved.api.rollout import RolloutPhase, RolloutStatus
from paved.core.model_versions import registered_model_name
from paved.core.monitor_actions import BECAUSE_ANNOTATION as BECAUSE
from paved.core.monitor_actions import MONITOR_LABEL
from paved.core.prediction_log import LogKind, Prediction, entity_key
from paved.core.registry_memory import rollout_ended
from paved.core.serving import ServedModel
from paved_local.dataplane.load import Example
from paved_local.platform import Endpoints
from tests.e2e.test_model_version_trains_and_is_gated import MV, _model_version
from tests.support.churn_data import serving_examples, write_churn_data, write_today
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.traffic import steady_load
from tests.support.training import example
from tests.support.waiting import wait_for

MONITOR = "modelmonitor.paved.dev"
MODEL = "churn"
INTERVAL_SECONDS = 10


def _production(
    kubectl: Kubectl, endpoints: Endpoints, namespace: str, promoted: dt.datetime
) -> tuple[str, str]:
    """churn-v1 trained by its real pipeline, then made production as a Rollout's promotion
    leaves it in the registry (the stage, and the Rollout's record of when): its (version,
    storage URI)."""
    staged = wait_for_condition(
        kubectl, MV, "churn-v1", namespace, "GatesPassed", "True", timeout=300
    )
    version = staged["status"]["registry"]["version"]
    registry = MlflowRegistry(endpoints.mlflow)
    model = registered_model_name(namespace, MODEL)
    asyncio.run(registry.set_stage(model, version, Stage.PRODUCTION))
    record = rollout_ended(
        "churn-v1",
        outcome=RolloutPhase.SUCCEEDED.value,
        reason="Promoted",
        message="promoted",
        status=RolloutStatus(),
        at=promoted,
    )
    asyncio.run(registry.annotate(model, version, record))
    found = asyncio.run(registry.version(model, version))
    assert found is not None
    return version, found.uri


def _train_churn_v1(kubectl: Kubectl, data: Path, namespace: str) -> dict[str, Any]:
    """The churn data, its FeatureView, and churn-v1 applied (trained by its real pipeline)."""
    write_churn_data(data)
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"
    view["spec"]["materialization"]["enabled"] = False
    kubectl.apply(yaml.safe_dump(view), "-n", namespace)
    trained = _model_version("churn-v1", MODEL, "churn_labels.parquet")
    kubectl.apply(yaml.safe_dump(trained), "-n", namespace)
    return trained


def _serve(kubectl: Kubectl, namespace: str, uri: str, *, version: str | None = None) -> None:
    """Serve `uri` on churn's baseline; with `version`, annotated as a Rollout annotates it (the
    registry version the data plane logs its predictions under)."""
    deployment = example("00-seldondeployment.yaml")
    baseline = deployment["spec"]["predictors"][0]
    baseline["graph"]["modelUri"] = uri
    if version is not None:
        served = ServedModel(uri, registered_model_name(namespace, MODEL), version)
        baseline["annotations"] = served.annotations()
    kubectl.apply(yaml.safe_dump(deployment), "-n", namespace)


@dataclass(frozen=True)
class Served:
    """Predictions as the data plane logs them: what the model saw and what it answered."""

    features: list[dict[str, Any]]
    scores: list[float]


def _log(
    root: Path, namespace: str, version: str, served: Served, *, tag: str, until: dt.datetime
) -> None:
    """`served` logged one a second up to `until`."""
    records = [
        parquet.PredictionRecord(
            namespace=namespace,
            model=MODEL,
            predictor="baseline",
            prediction=Prediction(
                request_id=f"{tag}-{n}",
                entity=entity_key({"user_id": n}),
                served_at=until - dt.timedelta(seconds=len(served.scores) - n),
                model_version=version,
                score=score,
            ),
            features=features,
        )
        for n, (features, score) in enumerate(zip(served.features, served.scores, strict=True))
    ]
    parquet.write(str(root), records)


def _plain(features: Mapping[str, Any]) -> dict[str, Any]:
    """Features as the data plane logs them, from a request's JSON: numbers, not numpy's."""
    return {name: v.item() if isinstance(v, np.generic) else v for name, v in features.items()}


def _churn_monitor(**checks: Any) -> dict[str, Any]:
    """A monitor of churn on its SeldonDeployment every 10 s, with `checks` (spec fields)."""
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "ModelMonitor",
        "metadata": {"name": "churn"},
        "spec": {
            "model": MODEL,
            "target": {"seldonDeployment": {"name": "churn"}},
            "interval": f"{INTERVAL_SECONDS}s",
            **checks,
        },
    }


def _monitor(template: dict[str, Any]) -> dict[str, Any]:
    """Input and score drift over the last hour; a retraining from `template` once input drift
    holds."""
    return _churn_monitor(
        window="1h",
        minSamples=200,
        inputDrift={"maxPsi": 0.2},
        predictionDrift={"maxPsi": 0.2},
        actions={"retrain": {"when": ["InputDrift"], "template": template}},
    )


def _monitor_event(
    kubectl: Kubectl, namespace: str, reason: str, mentioning: str
) -> dict[str, Any] | None:
    events = kubectl.events_about("churn", namespace)
    about = [e for e in events if e["involvedObject"]["kind"] == "ModelMonitor"]
    return next((e for e in about if e["reason"] == reason and mentioning in e["message"]), None)


def _retrainings(kubectl: Kubectl, namespace: str) -> list[dict[str, Any]]:
    found = kubectl.get_json(MV, "-n", namespace, "-l", f"{MONITOR_LABEL}=churn")
    items: list[dict[str, Any]] = found["items"]
    return items


def test_drifted_inputs_alarm_and_retrain_a_version_that_waits_for_a_person(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    data = paved_operator.data_root / namespace
    trained = _train_churn_v1(kubectl, data, namespace)
    now = dt.datetime.now(dt.UTC)
    promoted = now - dt.timedelta(minutes=20)
    version, uri = _production(kubectl, endpoints, namespace, promoted)
    _serve(kubectl, namespace, uri)
    like_training = [_plain(e.features) for e in serving_examples(data)[:300]]
    rng = np.random.default_rng(19)
    # As a canary before its promotion, then in production: the same scores, by and large.
    canary = Served(like_training, rng.beta(2, 5, 300).tolist())
    _log(paved_operator.data_root, namespace, version, canary, tag="canary", until=promoted)
    stable = Served(like_training, rng.beta(2, 5, 300).tolist())
    _log(paved_operator.data_root, namespace, version, stable, tag="stable", until=now)
    template = {k: v for k, v in trained["spec"].items() if k != "model"}

    kubectl.apply(yaml.safe_dump(_monitor(template)), "-n", namespace)
    calm = wait_for_condition(kubectl, MONITOR, "churn", namespace, "Healthy", "True", timeout=120)
    for check in ("InputDrift", "PredictionDrift"):
        assert condition(calm, check)["reason"] == "NoDrift"  # type: ignore[index]
    assert condition(calm, "Retraining")["reason"] == "NotTriggered"  # type: ignore[index]
    assert calm["status"]["modelVersion"] == version
    references = calm["status"]["references"]
    assert {h["feature"] for h in references["features"]} == {
        "clicks_7d",
        "sessions_7d",
        "tenure_days",
        "country",
    }
    assert references["scores"]["rows"] == 300  # the canary's, before the promotion
    labels = {"namespace": namespace, "model_monitor": "churn"}
    assert paved_operator.metric("paved_monitor_check", check="InputDrift", **labels) == 0

    # The world drifts: every user clicks three times as much, and 30 more; the model leans
    # towards churn.
    drifted = Served(
        [{**row, "clicks_7d": row["clicks_7d"] * 3 + 30} for row in like_training] * 2,
        rng.beta(5, 2, 600).tolist(),
    )
    now = dt.datetime.now(dt.UTC)
    _log(paved_operator.data_root, namespace, version, drifted, tag="drifted", until=now)
    alarm = wait_for_condition(
        kubectl, MONITOR, "churn", namespace, "InputDrift", "True", timeout=60
    )
    input_drift = condition(alarm, "InputDrift")
    assert input_drift is not None
    assert "clicks_7d PSI" in input_drift["message"]
    # Detected within two intervals of the drift reaching the log (the transition's time is
    # the operator's, to the second).
    detected = dt.datetime.fromisoformat(input_drift["lastTransitionTime"]) - now
    print(f"input drift detected {detected.total_seconds():.0f}s after it was logged")
    assert detected <= dt.timedelta(seconds=2 * INTERVAL_SECONDS)
    assert condition(alarm, "Healthy")["status"] == "False"  # type: ignore[index]
    assert condition(alarm, "PredictionDrift")["status"] == "True"  # type: ignore[index]
    event = wait_for(
        lambda: _monitor_event(kubectl, namespace, "DriftDetected", "clicks_7d"), 30, "event"
    )
    assert event["type"] == "Warning"
    assert paved_operator.metric("paved_monitor_check", check="InputDrift", **labels) == 1
    assert paved_operator.metric("paved_monitor_psi", feature="clicks_7d", **labels) > 0.2
    assert paved_operator.metric("paved_monitor_prediction_psi", **labels) > 0.2

    _retrained_once_waiting_for_a_person(kubectl, namespace)


def _retrained_once_waiting_for_a_person(kubectl: Kubectl, namespace: str) -> None:
    """The alarm held at the next check: one retraining, trained and gated by its real
    pipeline, its trigger in its lineage, staged and never promoted by the monitor."""
    started = wait_for_condition(
        kubectl, MONITOR, "churn", namespace, "Retraining", "True", timeout=60
    )
    name = started["status"]["retraining"]["modelVersion"]
    assert name.startswith("churn-retrain-")
    gated = wait_for_condition(kubectl, MV, name, namespace, "GatesPassed", "True", timeout=300)
    parameters = gated["status"]["lineage"]["parameters"]
    assert "InputDrift: 1 of 4 features drifted" in parameters["retrained_because"]
    assert "clicks_7d PSI" in parameters["retrained_because"]
    assert parameters["retrained_by"] == "ModelMonitor churn"
    assert gated["status"]["stage"] != "Production"  # a person signs off and rolls it out
    assert "signOff" not in gated["spec"]["approval"]
    monitor = wait_for_condition(
        kubectl, MONITOR, "churn", namespace, "Retraining", "True", reason="RetrainInFlight"
    )
    assert name in condition(monitor, "Retraining")["message"]  # type: ignore[index]
    assert [m["metadata"]["name"] for m in _retrainings(kubectl, namespace)] == [name]
    assert kubectl.get_json("rollouts.paved.dev", "-n", namespace)["items"] == []


def _share_the_log(operator: RunningOperator, endpoints: Endpoints, namespace: str) -> None:
    """On a cluster the data plane and the operator mount one data claim; here each has a data
    root of its own, so the operator's gets the namespace's log folders of the data plane's."""
    assert endpoints.prediction_log is not None
    for kind in LogKind:
        logged = endpoints.prediction_log / namespace / kind.value
        logged.mkdir(parents=True, exist_ok=True)
        (operator.data_root / namespace / kind.value).symlink_to(logged, target_is_directory=True)


def _performance_monitor(template: dict[str, Any]) -> dict[str, Any]:
    """Live AUC over the last 10 minutes; once it has dropped at two checks, a retraining on
    the labels the log holds."""
    retrain = {
        "when": ["PerformanceDropped"],
        "template": template,
        "labelsFrom": "predictionLog",
        "labelWindow": "1h",
        "minLabels": 300,
    }
    return _churn_monitor(
        performance={"maxRegression": 0.1, "minLabels": 150, "window": "10m"},
        actions={"retrain": retrain},
    )


def test_live_auc_from_seldon_feedback_is_judged_against_the_one_at_training(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    data = paved_operator.data_root / namespace
    churn_v1 = _train_churn_v1(kubectl, data, namespace)
    write_today(data, dt.datetime.now(dt.UTC))  # what is served today, as the retraining joins
    _share_the_log(paved_operator, endpoints, namespace)
    version, uri = _production(kubectl, endpoints, namespace, dt.datetime.now(dt.UTC))
    trained = kubectl.get_json(MV, "churn-v1", "-n", namespace)["status"]["lineage"]["metrics"]
    _serve(kubectl, namespace, uri, version=version)
    examples = serving_examples(data)
    template = {k: v for k, v in churn_v1["spec"].items() if k != "model"}
    kubectl.apply(yaml.safe_dump(_performance_monitor(template)), "-n", namespace)

    # Users behave as the labels the model learnt from say: live AUC holds.
    with steady_load(endpoints, namespace, "churn", examples, rate=20):
        held = wait_for_condition(
            kubectl, MONITOR, "churn", namespace, "PerformanceDropped", "False", timeout=240
        )
    holds = condition(held, "PerformanceDropped")
    assert holds is not None
    assert f"vs {trained['auc']:.4f} at training" in holds["message"]
    live = held["status"]["performance"][0]
    assert live["metric"] == "auc"
    assert live["value"] >= trained["auc"] - 0.1
    assert live["judged"] >= 150

    # The world turns: those the model sees leaving stay, and those it trusts leave.
    turned = [Example(e.features, 1 - (e.label or 0), e.entity) for e in examples]
    with steady_load(endpoints, namespace, "churn", turned, rate=20):
        dropped = wait_for_condition(
            kubectl, MONITOR, "churn", namespace, "PerformanceDropped", "True", timeout=120
        )
    message = condition(dropped, "PerformanceDropped")["message"]  # type: ignore[index]
    assert "worse by" in message
    labels = {"namespace": namespace, "model_monitor": "churn", "metric": "auc"}
    assert paved_operator.metric("paved_monitor_metric", **labels) < trained["auc"] - 0.1
    event = wait_for(
        lambda: _monitor_event(kubectl, namespace, "PerformanceDropped", "auc"), 30, "event"
    )
    assert event["type"] == "Warning"

    _retrained_on_the_logs_labels(kubectl, paved_operator.data_root, namespace)


def _retrained_on_the_logs_labels(kubectl: Kubectl, data_root: Path, namespace: str) -> None:
    """The drop held at the next check: one retraining, its labels the log's judged
    predictions (each user as served, and what came back), trained by its real pipeline."""
    started = wait_for_condition(
        kubectl, MONITOR, "churn", namespace, "Retraining", "True", timeout=60
    )
    name = started["status"]["retraining"]["modelVersion"]
    retraining = kubectl.get_json(MV, name, "-n", namespace)
    path = retraining["spec"]["labels"]["path"]
    assert path == f"retrained/churn/{name}.parquet"
    written = pq.read_table(data_root / namespace / path)
    assert written.column_names == ["user_id", "ts", "churned"]
    assert written.num_rows >= 300
    assert "PerformanceDropped: auc" in retraining["metadata"]["annotations"][BECAUSE]

    def settled() -> dict[str, Any] | None:
        found = kubectl.get_json(MV, name, "-n", namespace)
        phase = (found.get("status") or {}).get("phase")
        return found if phase in ("Staging", "Held", "Failed") else None

    # Trained on them by its real pipeline, and judged by its gates.
    trained = wait_for(settled, timeout=300, what=f"{name} to be trained and gated")
    assert trained["status"]["phase"] != "Failed", condition(trained, "Trained")
    gates = condition(trained, "GatesPassed")
    assert gates is not None
    phase = trained["status"]["phase"]
    print(f"{name}: {phase}, GatesPassed={gates['status']}: {gates['message']}")
