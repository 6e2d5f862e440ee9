"""A BatchPrediction on the local platform: the operator trains the churn model, the model goes
to production, and the BatchPrediction scores every user as of the FeatureView's watermark with
it; the scores are read through the SDK exactly as features are, each carrying the version that
produced it, and the run's Parquet holds them once. `paved predictions run` then scores as of
now, and `paved predictions status` tells what is served."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import subprocess
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import yaml

from paved.adapters.registry.mlflow import MlflowRegistry
from paved.api.model_version import Stage
from paved.core.model_versions import registered_model_name
from paved.features import FeatureStore
from paved.ports.online import ValueStatus
from paved.settings import OperatorSettings
from paved_local.platform import Endpoints
from tests.support.approvals import PAVED
from tests.support.churn_data import write_churn_data
from tests.support.conditions import wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.training import example

BP, MV, FV = "batchprediction.paved.dev", "modelversion.paved.dev", "featureview.paved.dev"
USERS = 600  # the churn data's


def _batch_prediction() -> dict[str, Any]:
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "BatchPrediction",
        "metadata": {"name": "churn-scores"},
        "spec": {
            "model": {"name": "churn"},
            "entities": {"featureView": "user-activity-v1"},
            "trigger": {"watermark": True},
            # The churn data is of October: its predictions must not expire by now.
            "output": {"ttl": "0s"},
        },
    }


def _paved(endpoints: Endpoints, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PAVED, *args, f"--kubeconfig={endpoints.kubeconfig}"],
        capture_output=True,
        text=True,
        check=False,
        env=dict(os.environ),
        timeout=300,
    )


def _in_production(kubectl: Kubectl, namespace: str, endpoints: Endpoints) -> str:
    """churn-v1 trained, gated, registered, then made production (a Rollout's job, done here
    through the registry); its registry version."""
    staged = wait_for_condition(
        kubectl, MV, "churn-v1", namespace, "GatesPassed", "True", timeout=600
    )
    version = str(staged["status"]["registry"]["version"])
    registry = MlflowRegistry(endpoints.mlflow)
    registered = registered_model_name(namespace, "churn")
    asyncio.run(registry.set_stage(registered, version, Stage.PRODUCTION))
    return version


def test_a_batch_prediction_scores_every_user_and_serves_the_scores_like_features(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    write_churn_data(paved_operator.data_root / namespace)
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"  # under <data root>/<namespace>/
    view["spec"]["materialization"]["interval"] = "2s"
    model_version = example("02-modelversion.yaml")
    model_version["spec"]["labels"]["path"] = (
        "churn_labels.parquet"  # where write_churn_data puts it
    )
    model_version["spec"]["gates"] = {"metric": {"minValue": 0.6}}
    kubectl.apply(yaml.safe_dump_all([view, model_version]), "-n", namespace)
    version = _in_production(kubectl, namespace, endpoints)
    kubectl.apply(yaml.safe_dump(_batch_prediction()), "-n", namespace)

    scored = wait_for_condition(
        kubectl, BP, "churn-scores", namespace, "Ready", "True", timeout=180
    )
    served = scored["status"]["served"]
    watermark = kubectl.get_json(FV, "user-activity-v1", "-n", namespace)["status"]["watermark"]
    assert (served["rows"], served["modelVersion"]) == (USERS, version)
    assert dt.datetime.fromisoformat(served["asOf"]) == dt.datetime.fromisoformat(watermark)
    assert scored["status"]["observedGeneration"] == scored["metadata"]["generation"]

    settings = OperatorSettings(
        kubeconfig=str(endpoints.kubeconfig),
        redis_url=endpoints.redis,
        data_root=str(paved_operator.data_root),
    )
    store = FeatureStore.from_cluster(namespace, settings)
    users = [{"user_id": user} for user in range(USERS)]
    refs = ["churn-scores:score", "churn-scores:model_version"]
    read = store.get_online_features(users, refs, dt.datetime.now(dt.UTC))
    label = f"{registered_model_name(namespace, 'churn')}/{version}"
    assert {row[1] for row in read.values} == {label}
    assert all(0 <= row[0] <= 1 for row in read.values)
    assert {s for row in read.statuses for s in row} == {ValueStatus.PRESENT}
    partition = pq.read_table(Path(served["path"]))
    assert sorted(partition["user_id"].to_pylist()) == list(range(USERS))

    # A person asks for a run now: as of now, the same model, every user again.
    asked = dt.datetime.now(dt.UTC)
    ran = _paved(endpoints, "predictions", "run", "churn-scores", "-n", namespace)
    assert ran.returncode == 0, ran.stderr
    assert f"{USERS:,} entities scored" in ran.stdout
    now_served = kubectl.get_json(BP, "churn-scores", "-n", namespace)["status"]["served"]
    assert dt.datetime.fromisoformat(now_served["asOf"]) >= asked.replace(microsecond=0)
    shown = _paved(endpoints, "predictions", "status", "churn-scores", "-n", namespace)
    assert f"serving:  {label.replace('/', ' version ')} as of" in shown.stdout
    assert "Ready: True Scored" in shown.stdout
