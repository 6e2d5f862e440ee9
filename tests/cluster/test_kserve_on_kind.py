"""InferenceServices served by model server Pods on the kind cluster: the KServe stand-in
(charts/paved-platform's `seldon-controller` process, ADR 0033) runs each revision as Knative
would, an MLServer Deployment whose `storage-initializer` fetched the model; the data plane routes
between revisions by the canary's percent, as Knative does; a `models:/` URI is refused."""

from __future__ import annotations

from collections import Counter
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
# The same model under a second URI: a new storageUri is a new revision.
AGAIN = f"{BASELINE}/"
ROW = {"clicks_7d": 12, "sessions_7d": 3, "tenure_days": 40, "country": "FR"}


def _isvc(name: str, uri: str, canary: int | None = None) -> dict[str, Any]:
    predictor: dict[str, Any] = {"model": {"modelFormat": {"name": "mlflow"}, "storageUri": uri}}
    if canary is not None:
        predictor["canaryTrafficPercent"] = canary
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name},
        "spec": {"predictor": predictor},
    }


def _predictor(cluster: KindCluster, name: str) -> dict[str, Any]:
    status = get_object(cluster, "inferenceservice", name).get("status") or {}
    found: dict[str, Any] = (status.get("components") or {}).get("predictor") or {}
    return found


def _ready(cluster: KindCluster, name: str) -> dict[str, Any]:
    status = get_object(cluster, "inferenceservice", name).get("status") or {}
    return next((c for c in status.get("conditions") or [] if c["type"] == "Ready"), {})


@pytest.fixture(scope="module")
def canary(example_data: KindCluster) -> Iterator[KindCluster]:
    """`mls-kserve`: a revision rolled out, then a second one taking half the traffic."""
    apply_manifest(example_data, _isvc("mls-kserve", BASELINE))
    wait_for(
        lambda: _predictor(example_data, "mls-kserve").get("latestRolledoutRevision"),
        timeout=300,
        what="the first revision's model server to be available",
    )
    apply_manifest(example_data, _isvc("mls-kserve", AGAIN, canary=50))
    wait_for(
        lambda: len(_predictor(example_data, "mls-kserve").get("traffic") or []) == 2,
        timeout=300,
        what="the second revision's model server to take its share",
    )
    yield example_data
    example_data.kubectl("-n", TEAM, "delete", "inferenceservice", "mls-kserve", "--wait=false")


def test_each_serving_revision_runs_as_an_mlserver_deployment(canary: KindCluster) -> None:
    traffic = _predictor(canary, "mls-kserve")["traffic"]

    assert [(t["revisionName"], t["percent"]) for t in traffic] == [
        ("mls-kserve-predictor-00001", 50),
        ("mls-kserve-predictor-00002", 50),
    ]
    for revision in ("mls-kserve-predictor-00001", "mls-kserve-predictor-00002"):
        (pod,) = wait_for(
            lambda r=revision: (
                (found := pods(canary, f"serving.knative.dev/revision={r}"))
                and all(p["status"]["phase"] == "Running" for p in found)
                and found
            ),
            timeout=120,
            what=f"{revision}'s model server Pod to run",
        )
        (server,) = pod["spec"]["containers"]
        assert server["name"] == "kserve-container"
        (fetched,) = pod["status"]["initContainerStatuses"]
        assert fetched["name"] == "storage-initializer"
        assert fetched["state"]["terminated"]["exitCode"] == 0


def test_requests_split_between_the_revisions_model_servers(canary: KindCluster) -> None:
    (pod,) = pods(canary, "serving.knative.dev/revision=mls-kserve-predictor-00002")
    host = {"Host": f"mls-kserve.{TEAM}.example.com"}
    v2 = {
        "inputs": [
            {
                "name": k,
                "shape": [1],
                "datatype": "BYTES" if isinstance(v, str) else "INT64",
                "data": [v],
            }
            for k, v in ROW.items()
        ]
    }
    with (
        port_forward(canary, "service/dataplane", 8000) as dataplane,
        port_forward(canary, f"pod/{pod['metadata']['name']}", 8082, namespace=TEAM) as metrics,
    ):
        # The data plane takes the stand-in's status at its next look: wait for both revisions.
        wait_for(
            lambda: (
                [
                    len(service["revisions"])
                    for service in httpx.get(f"{dataplane}/v1/inferenceservices").json()["services"]
                    if service["name"] == "mls-kserve"
                ]
                == [2]
            ),
            timeout=60,
            what="the data plane to route between both revisions",
        )
        before = mlserver_served(httpx.get(f"{metrics}/metrics").text)
        answers = [
            httpx.post(f"{dataplane}/v2/models/mls-kserve/infer", json=v2, headers=host, timeout=30)
            for _ in range(30)
        ]
        failed = [a.text for a in answers if a.status_code != 200]
        assert not failed, failed
        by_revision = Counter(a.json()["model_version"] for a in answers)
        second = by_revision["mls-kserve-predictor-00002"]
        served = wait_for(
            lambda: (
                (s := mlserver_served(httpx.get(f"{metrics}/metrics").text)) >= before + second
                and s
            ),
            timeout=30,
            what="the second revision's MLServer to count what it served",
        )
    assert set(by_revision) == {"mls-kserve-predictor-00001", "mls-kserve-predictor-00002"}
    assert served - before == second
    assert all(0.0 < a.json()["outputs"][0]["data"][0] < 1.0 for a in answers)


def test_a_registry_uri_gets_no_pod_and_the_status_says_why(example_data: KindCluster) -> None:
    apply_manifest(example_data, _isvc("mls-kserve-registry", "models:/churn/1"))

    refused = wait_for(
        lambda: (r := _ready(example_data, "mls-kserve-registry")).get("message") and r,
        timeout=60,
        what="the stand-in to refuse a models:/ URI",
    )
    assert refused["status"] == "False"
    assert "models:/churn/1" in refused["message"]
    assert not pods(example_data, "serving.kserve.io/inferenceservice=mls-kserve-registry")
    events = example_data.kubectl(
        *("-n", TEAM, "get", "events", "--field-selector"),
        "involvedObject.name=mls-kserve-registry,reason=RevisionRefused",
        capture=True,
    )
    assert "models:/churn/1" in events
    example_data.kubectl("-n", TEAM, "delete", "inferenceservice", "mls-kserve-registry")
