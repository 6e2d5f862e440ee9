"""A StreamingPrediction applied to the cluster: the operator starts its workers on the model's
production version, they score events as they arrive, and when one is killed mid-stream the
operator replaces it and every event ends with exactly one result."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import pytest
import redis
import yaml
from sklearn.linear_model import LogisticRegression

from paved.adapters.registry.mlflow import MlflowRegistry
from paved.api.model_version import Stage
from paved.core.model_versions import registered_model_name
from paved.core.streaming_predictions import dead_letter_stream, output_stream
from paved_local.operator_process import OperatorProcess
from paved_local.platform import Endpoints
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.streaming import FEATURE_VIEW, VIEW, publish, seed_features
from tests.support.waiting import wait_for

KIND, NAME = "streamingprediction.paved.dev", "churn-stream"
USERS = list(range(1, 51))
EVENTS = 600
PER_SECOND = 100


def _production_model(endpoints: Endpoints, namespace: str) -> str:
    """`churn` of the namespace, registered and in production: scores rise with clicks."""
    mlflow.set_tracking_uri(endpoints.mlflow)
    clicks = np.arange(60, dtype=float)
    x = pd.DataFrame({"clicks": clicks, "minutes": clicks / 2})  # trained on named features
    with mlflow.start_run() as run:
        model = LogisticRegression().fit(x, (clicks > 25).astype(int))
        mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    registry, name = MlflowRegistry(endpoints.mlflow), registered_model_name(namespace, "churn")
    version = asyncio.run(registry.register(name, run.info.run_id, uuid.uuid4().hex, {}))
    asyncio.run(registry.set_stage(name, version.version, Stage.PRODUCTION))
    return version.version


def _manifests(namespace: str) -> str:
    view = {"apiVersion": "paved.dev/v1alpha1", "kind": "FeatureView"}
    view |= {"metadata": {"name": VIEW}, "spec": FEATURE_VIEW}
    prediction: dict[str, Any] = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "StreamingPrediction",
        "metadata": {"name": NAME},
        "spec": {
            "input": {"stream": f"events:{namespace}"},
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "features": [f"{VIEW}:clicks", f"{VIEW}:minutes"],
            "model": {"name": "churn"},
            "workers": {"replicas": 2, "batchSize": 50, "claimIdle": "1s"},
            "freshness": "10s",
        },
    }
    return yaml.safe_dump_all([view, prediction])


def _produce(client: redis.Redis, stream: str, sent: list[str]) -> None:
    """EVENTS events at PER_SECOND, in bursts of a tenth of a second."""
    burst = PER_SECOND // 10
    for start in range(0, EVENTS, burst):
        events = [{"user_id": USERS[(start + i) % len(USERS)]} for i in range(burst)]
        sent += publish(client, stream, events)
        time.sleep(0.1)  # the producer's pace, not a wait on the system under test


def _diagnosis(client: redis.Redis, namespace: str, workers: Path) -> str:
    """What the streams hold and the workers said: for a failure's message."""
    output = client.xlen(output_stream(namespace, NAME))
    letters = [f[b"reason"] for _, f in client.xrange(dead_letter_stream(namespace, NAME))]
    logs = {p.parent.name: p.read_text()[-600:] for p in workers.glob("worker-*/worker.log")}
    return f"{output} results, dead letters {letters[:5]}, logs {logs}"


@pytest.fixture
def own_namespace(kubectl: Kubectl) -> str:
    """A namespace only this test's operator watches (the session's operator watches t-*)."""
    name = f"s-{uuid.uuid4().hex[:10]}"
    kubectl.run("create", "namespace", name)
    return name


@pytest.fixture
def operator(
    endpoints: Endpoints, operator_kubeconfig: Path, own_namespace: str, tmp_path: Path
) -> Iterator[RunningOperator]:
    """An operator of this test's own: its workers are its children, and it may take minutes
    to start on a machine shared with other test runs (the session's waits 120 s)."""
    running = RunningOperator(
        endpoints, tmp_path / "operator", operator_kubeconfig, namespaces=(own_namespace,)
    )
    OperatorProcess.start(running)
    try:
        running.wait_until_live(timeout_seconds=600)
        yield running
    finally:
        running.stop()


def test_streaming_prediction_survives_a_killed_consumer(
    operator: RunningOperator, kubectl: Kubectl, own_namespace: str, endpoints: Endpoints
) -> None:
    paved_operator, namespace = operator, own_namespace
    client = redis.Redis.from_url(endpoints.redis)
    now = dt.datetime.now(dt.UTC)
    seed_features(client, paved_operator.data_root, namespace, USERS, now)
    version = _production_model(endpoints, namespace)
    kubectl.apply(_manifests(namespace), "-n", namespace)
    ready = wait_for_condition(kubectl, KIND, NAME, namespace, "Ready", "True", timeout=180)
    assert f"v{version}" in condition(ready, "Ready")["message"]

    sent: list[str] = []
    producer = threading.Thread(target=_produce, args=(client, f"events:{namespace}", sent))
    producer.start()
    wait_for(lambda: len(sent) >= EVENTS // 3, 30, "a third of the events sent")
    workers = paved_operator.state_dir / "stream-workers" / namespace / NAME
    killed = int((workers / "worker-0" / "pid").read_text())
    os.kill(killed, signal.SIGKILL)  # mid-stream, holding whatever it had read
    producer.join()

    replaced = wait_for(
        lambda: (p := int((workers / "worker-0" / "pid").read_text())) != killed and p,
        60,
        "the operator to replace the killed worker",
    )
    assert replaced
    output = output_stream(namespace, NAME)

    def scored() -> list[str] | None:
        ids = [f[b"event_id"].decode() for _, f in client.xrange(output)]
        return ids if len(ids) >= len(sent) else None

    try:
        ids = wait_for(scored, 180, "every event scored")
    except AssertionError as error:
        raise AssertionError(f"{error}; {_diagnosis(client, namespace, workers)}") from error
    assert sorted(ids) == sorted(sent)  # none lost, none scored twice
    assert client.xpending(f"events:{namespace}", "paved")["pending"] == 0
    caught_up = wait_for_condition(
        kubectl, KIND, NAME, namespace, "Fresh", "True", timeout=60, reason="CaughtUp"
    )
    backlog = caught_up["status"]["backlog"]
    assert (backlog["lag"], backlog["pending"]) == (0, 0)
    # Ready again once the replacement has loaded the model and joined the group.
    ready = wait_for_condition(
        kubectl, KIND, NAME, namespace, "Ready", "True", timeout=300, reason="Running"
    )
    assert (ready["status"]["workers"], ready["status"]["modelVersion"]) == (2, version)
