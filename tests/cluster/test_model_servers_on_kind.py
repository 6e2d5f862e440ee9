"""Model servers as Pods on the kind cluster: the Seldon stand-in (charts/paved-platform's
`seldon-controller`) runs an MLServer Deployment per predictor, its init container fetching the
model from the object store with kserve-storage; the data plane is the executor in front of
them; a `models:/` URI is refused as real Seldon would refuse it. ADR 0032."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from paved_local.cluster import KindCluster
from tests.cluster.conftest import (
    TEAM,
    apply_manifest,
    get_object,
    mlserver_served,
    pods,
    port_forward,
)
from tests.support.waiting import wait_for

pytestmark = pytest.mark.cluster

BASELINE = "s3://paved/models/churn/baseline"  # where examples/data puts a baseline model
# The baseline model's columns (examples/data/load.py).
ROW = {"clicks_7d": 12, "sessions_7d": 3, "tenure_days": 40, "country": "FR"}


def _sdep(name: str, *uris: str) -> dict[str, Any]:
    """A SeldonDeployment of one predictor a URI, traffic split evenly."""
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name},
        "spec": {
            "predictors": [
                {
                    "name": f"p{i}",
                    "traffic": 100 // len(uris) + (100 % len(uris) if i == 0 else 0),
                    "graph": {
                        "name": "classifier",
                        "implementation": "MLFLOW_SERVER",
                        "modelUri": uri,
                    },
                }
                for i, uri in enumerate(uris)
            ]
        },
    }


def _state(cluster: KindCluster, name: str) -> dict[str, Any]:
    status: dict[str, Any] = get_object(cluster, "seldondeployment", name).get("status", {})
    return status


@pytest.fixture(scope="module")
def two_predictors(example_data: KindCluster) -> Iterator[KindCluster]:
    """`mls-two`: two predictors serving the examples' baseline, once Available."""
    apply_manifest(example_data, _sdep("mls-two", BASELINE, BASELINE))
    wait_for(
        lambda: _state(example_data, "mls-two").get("state") == "Available",
        timeout=300,
        what="both predictors' model servers to be available",
    )
    yield example_data
    example_data.kubectl("-n", TEAM, "delete", "seldondeployment", "mls-two", "--wait=false")


def test_each_predictor_runs_as_an_mlserver_deployment(two_predictors: KindCluster) -> None:
    status = _state(two_predictors, "mls-two")

    assert set(status["deploymentStatus"]) == {"mls-two-p0-0-classifier", "mls-two-p1-0-classifier"}
    for predictor in ("p0", "p1"):
        (pod,) = pods(two_predictors, f"seldon-app=mls-two-{predictor}")
        assert pod["status"]["phase"] == "Running"
        (server,) = pod["spec"]["containers"]
        assert "paved-model-server" in server["image"]
        assert pod["metadata"]["labels"]["seldon-deployment-id"] == "mls-two"
        (fetched,) = pod["status"]["initContainerStatuses"]
        assert fetched["state"]["terminated"]["exitCode"] == 0


def test_a_request_through_the_data_plane_reaches_mlserver(two_predictors: KindCluster) -> None:
    (pod,) = pods(two_predictors, "seldon-app=mls-two-p0")
    with (
        port_forward(two_predictors, "service/dataplane", 8000) as dataplane,
        port_forward(
            two_predictors, f"pod/{pod['metadata']['name']}", 8082, namespace=TEAM
        ) as metrics,
    ):
        before = mlserver_served(httpx.get(f"{metrics}/metrics").text)
        # The stand-in's status says Available a moment before the data plane's next look
        # takes the route: wait for this deployment's route, not any.
        wait_for(
            lambda: any(
                r["deployment"] == "mls-two"
                for r in httpx.get(f"{dataplane}/v1/deployments").json()["routes"]
            ),
            timeout=60,
            what="the data plane to route mls-two",
        )
        message = {"data": {"names": list(ROW), "ndarray": [list(ROW.values())] * 3}}
        url = f"{dataplane}/seldon/{TEAM}/mls-two"
        answers = [
            httpx.post(f"{url}/api/v1.0/predictions", json=message, timeout=30) for _ in range(8)
        ]
        v2 = {"inputs": [{"name": k, "data": [v]} for k, v in ROW.items()]}
        v2_answer = httpx.post(f"{url}/v2/models/classifier/infer", json=v2, timeout=30)

        served = wait_for(
            lambda: (s := mlserver_served(httpx.get(f"{metrics}/metrics").text)) > before and s,
            timeout=30,
            what="MLServer to count the requests it served",
        )
    failed = [a.text for a in answers if a.status_code != 200]
    assert not failed, failed
    scores = answers[0].json()["data"]["ndarray"]
    assert len(scores) == 3
    assert all(0.0 < s < 1.0 for s in scores)  # probabilities (the pyfunc's predict_proba)
    assert {a.json()["meta"]["tags"]["predictor"] for a in answers} <= {"p0", "p1"}
    assert v2_answer.status_code == 200, v2_answer.text
    assert v2_answer.json()["outputs"][0]["shape"] == [1]
    assert served > before


def test_a_registry_uri_is_refused_with_the_reason(example_data: KindCluster) -> None:
    apply_manifest(example_data, _sdep("mls-registry", "models:/churn/1"))

    refused = wait_for(
        lambda: (s := _state(example_data, "mls-registry")).get("state") == "Failed" and s,
        timeout=60,
        what="the stand-in to refuse a models:/ URI",
    )
    assert refused["conditions"][0]["reason"] == "PredictorRefused"
    assert "registry URI" in refused["description"]
    assert refused["deploymentStatus"] == {}
    events = example_data.kubectl(
        *("-n", TEAM, "get", "events", "--field-selector"),
        "involvedObject.name=mls-registry,reason=PredictorRefused",
        capture=True,
    )
    assert "models:/churn/1" in events
    example_data.kubectl("-n", TEAM, "delete", "seldondeployment", "mls-registry")


def test_deleting_a_seldon_deployment_deletes_its_model_servers(
    example_data: KindCluster,
) -> None:
    apply_manifest(example_data, _sdep("mls-gone", BASELINE))
    wait_for(
        lambda: pods(example_data, "seldon-deployment-id=mls-gone"),
        timeout=60,
        what="mls-gone's model server Pod",
    )

    example_data.kubectl("-n", TEAM, "delete", "seldondeployment", "mls-gone")

    wait_for(
        lambda: (
            "mls-gone"
            not in example_data.kubectl("-n", TEAM, "get", "deployments,services", capture=True)
        ),
        timeout=120,
        what="the garbage collector to delete mls-gone's Deployment and Service",
    )
