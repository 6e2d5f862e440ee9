"""Smoke tests that prove each part of the local platform is the real thing, not a stand-in."""

from __future__ import annotations

import http.server
import json
import textwrap
import threading
import uuid
from collections.abc import Iterator

import boto3
import httpx
import mlflow
import pytest
import redis
from botocore.exceptions import ClientError
from mlflow.tracking import MlflowClient
from prometheus_api_client import PrometheusConnect
from sklearn.linear_model import LogisticRegression

from paved_local.object_store import BUCKET
from paved_local.platform import Endpoints, LocalPlatform
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

WIDGET_CRD = textwrap.dedent(
    """
    apiVersion: apiextensions.k8s.io/v1
    kind: CustomResourceDefinition
    metadata: {name: widgets.smoke.paved.dev}
    spec:
      group: smoke.paved.dev
      scope: Namespaced
      names: {plural: widgets, singular: widget, kind: Widget}
      versions:
        - name: v1
          served: true
          storage: true
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  properties:
                    size: {type: integer, minimum: 1}
    """
)


def test_api_server_answers_readyz_with_the_printed_kubeconfig(kubectl: Kubectl) -> None:
    assert kubectl.run("get", "--raw", "/readyz").stdout.strip() == "ok"
    version = json.loads(kubectl.run("version", "-o", "json").stdout)
    assert version["serverVersion"]["gitVersion"].startswith("v1.36.")


def test_api_server_serves_and_validates_a_crd_the_test_installs(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.apply(WIDGET_CRD)
    kubectl.run(
        "wait", "--for=condition=Established", "crd/widgets.smoke.paved.dev", "--timeout=60s"
    )
    widget = "apiVersion: smoke.paved.dev/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 3}\n"
    kubectl.apply(widget, "-n", namespace)
    assert kubectl.get_json("widget", "w", "-n", namespace)["spec"]["size"] == 3

    too_small = widget.replace("size: 3", "size: 0")
    rejected = kubectl.apply(too_small.replace("name: w", "name: w2"), "-n", namespace, check=False)
    assert rejected.returncode != 0
    assert "spec.size" in rejected.stderr


def test_rbac_denies_a_service_account_until_a_role_binding_allows_it(
    kubectl: Kubectl, namespace: str
) -> None:
    account = f"system:serviceaccount:{namespace}:reader"
    kubectl.run("create", "serviceaccount", "reader", "-n", namespace)

    def can_list() -> str:
        return kubectl.run(
            "auth", "can-i", "list", "configmaps", "-n", namespace, f"--as={account}", check=False
        ).stdout.strip()

    assert can_list() == "no"
    forbidden = kubectl.run("get", "configmaps", "-n", namespace, f"--as={account}", check=False)
    assert "Forbidden" in forbidden.stderr

    kubectl.run(
        "create", "role", "read-cm", "--verb=list,get", "--resource=configmaps", "-n", namespace
    )
    kubectl.run(
        "create",
        "rolebinding",
        "read-cm",
        "--role=read-cm",
        f"--serviceaccount={namespace}:reader",
        "-n",
        namespace,
    )
    assert wait_for(lambda: can_list() == "yes", timeout=10, what="RBAC to allow the binding")
    kubectl.run("get", "configmaps", "-n", namespace, f"--as={account}")
    # The API server issues tokens for the account (TokenRequest), as operator tests will need.
    assert kubectl.run("create", "token", "reader", "-n", namespace).stdout.count(".") == 2


def test_redis_round_trips_a_value(endpoints: Endpoints) -> None:
    client = redis.Redis.from_url(endpoints.redis)
    key = f"smoke:{uuid.uuid4().hex}"
    client.set(key, b"\x00paved\xff", ex=60)
    assert client.get(key) == b"\x00paved\xff"
    assert client.info("server")["redis_version"].startswith("7.")


class _Metrics(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"# TYPE paved_smoke_answer gauge\npaved_smoke_answer 42\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: scrapes every two seconds would fill the test output."""


@pytest.fixture
def metrics_target(local_platform: LocalPlatform) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Metrics)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_address[1]}"
    target_file = local_platform.prometheus_targets_directory() / f"smoke-{uuid.uuid4().hex}.json"
    target_file.write_text(json.dumps([{"targets": [address], "labels": {"role": "smoke"}}]))
    try:
        yield address
    finally:
        target_file.unlink()
        server.shutdown()
        server.server_close()


def test_prometheus_scrapes_a_target_and_answers_a_query_about_it(
    endpoints: Endpoints, metrics_target: str
) -> None:
    assert httpx.get(f"{endpoints.prometheus}/-/ready").status_code == 200
    prometheus = PrometheusConnect(url=endpoints.prometheus)

    def answer() -> float | None:
        result = prometheus.custom_query(f'paved_smoke_answer{{instance="{metrics_target}"}}')
        return float(result[0]["value"][1]) if result else None

    assert wait_for(answer, timeout=30, what="Prometheus to scrape the target") == 42.0
    up = prometheus.custom_query(f'up{{instance="{metrics_target}", job="paved"}}')
    assert up[0]["value"][1] == "1"


def test_mlflow_registers_a_model_version_and_reads_it_back(endpoints: Endpoints) -> None:
    mlflow.set_tracking_uri(endpoints.mlflow)
    name = f"smoke-{uuid.uuid4().hex[:8]}"
    model = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    with mlflow.start_run() as run:
        mlflow.log_param("seed", 7)
        mlflow.sklearn.log_model(model, name="model", registered_model_name=name)

    client = MlflowClient(tracking_uri=endpoints.mlflow)
    version = client.get_model_version(name, "1")
    assert version.run_id == run.info.run_id
    loaded = mlflow.sklearn.load_model(f"models:/{name}/1")
    assert list(loaded.predict([[0.0], [3.0]])) == [0, 1]


def test_the_object_store_keeps_an_object_for_its_keys_only(
    endpoints: Endpoints, local_platform: LocalPlatform
) -> None:
    s3 = boto3.client("s3", endpoint_url=endpoints.storage["AWS_ENDPOINT_URL"])
    key = f"smoke/{uuid.uuid4().hex}"
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"model bytes")
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == b"model bytes"
    # It is the directory rclone serves, not a copy in memory.
    on_disk = local_platform.directory / "object-store" / "data" / BUCKET / key
    assert on_disk.read_bytes() == b"model bytes"
    stranger = boto3.client(
        "s3",
        endpoint_url=endpoints.storage["AWS_ENDPOINT_URL"],
        aws_access_key_id="someone",
        aws_secret_access_key="else",
    )
    with pytest.raises(ClientError, match=r"AccessDenied|InvalidAccessKeyId|SignatureDoesNotMatch"):
        stranger.get_object(Bucket=BUCKET, Key=key)
