"""The charts a cluster runs paved with: charts/paved with its feature workloads and
charts/paved-platform (Redis, Prometheus, MLflow, the object store, the data plane). Checked
without a cluster: each lints, each renders objects the API server accepts (a server-side dry
run), bad values fail with the message their fixture expects, and the operator's settings name
the platform's Services by DNS."""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from paved.settings import OperatorSettings
from paved_local.platform import Endpoints
from paved_local.toolchain import Toolchain, cache_root
from paved_pipelines.training import TRAINING_CONFIG, TRAINING_CREDENTIALS, TRAINING_DATA
from tests.support.helm import (
    CHARTS,
    KUBE_VERSION,
    ROOT,
    documents,
    find,
    helm,
    install,
    template,
)
from tests.support.kubectl import Kubectl, allowed

CLUSTER_VALUES = CHARTS / "paved" / "ci" / "platform-values.yaml"
IN_PROCESS = CHARTS / "paved-platform" / "ci" / "in-process-values.yaml"
INVALID = sorted((ROOT / "tests" / "fixtures" / "invalid-values").glob("*/*.yaml"))
# (chart, values files): every chart with its defaults and with each of its ci/ values files.
RENDERINGS = [
    ("paved", []),
    ("paved", [CLUSTER_VALUES]),
    ("paved-platform", []),
    ("paved-platform", [IN_PROCESS]),
]


def _values_flags(files: list[Path]) -> list[str]:
    return [f"--values={path}" for path in files]


@pytest.mark.parametrize(
    ("chart", "files"),
    RENDERINGS,
    ids=["paved", "paved-cluster", "platform", "platform-model-servers"],
)
def test_chart_lints_clean(toolchain: Toolchain, chart: str, files: list[Path]) -> None:
    linted = helm(
        toolchain, "lint", str(CHARTS / chart), "--strict", KUBE_VERSION, *_values_flags(files)
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr


@pytest.mark.usefixtures("paved_crds")
@pytest.mark.parametrize(
    ("chart", "files"),
    RENDERINGS,
    ids=["paved", "paved-cluster", "platform", "platform-model-servers"],
)
def test_the_api_server_accepts_every_object_rendered(
    toolchain: Toolchain, kubectl: Kubectl, namespace: str, chart: str, files: list[Path]
) -> None:
    manifest = template(toolchain, chart, *_values_flags(files), namespace=namespace)
    applied = kubectl.apply(manifest, "--dry-run=server", "-o", "name", check=False)

    assert applied.returncode == 0, applied.stderr
    assert len(applied.stdout.split()) == len(documents(manifest))


@pytest.mark.parametrize("fixture", INVALID, ids=lambda path: f"{path.parent.name}/{path.stem}")
def test_a_wrong_value_fails_with_the_message_its_fixture_expects(
    toolchain: Toolchain, fixture: Path
) -> None:
    expectations = [
        line.removeprefix("# expect: ")
        for line in fixture.read_text().splitlines()
        if line.startswith("# expect: ")
    ]
    rendered = helm(
        toolchain,
        "template",
        "t",
        str(CHARTS / fixture.parent.name),
        KUBE_VERSION,
        f"--values={fixture}",
    )

    assert expectations, f"{fixture.name} declares no expected error"
    assert rendered.returncode != 0, f"{fixture.name} was accepted"
    for expected in expectations:
        assert expected in rendered.stderr


def _undeclared(values: Any, schema: dict[str, Any], root: dict[str, Any], at: str) -> list[str]:
    """The keys under `at` in `values` that `schema` does not name (following $refs)."""
    while "$ref" in schema:
        schema = root["definitions"][schema["$ref"].rsplit("/", 1)[-1]]
    if not isinstance(values, dict) or schema.get("type") != "object":
        return []
    named = schema.get("properties", {})
    free = "properties" not in schema  # a free-form object (resources, volumes, selectors)
    found = [] if free else [f"{at}.{key}" for key in values if key not in named]
    for key, value in values.items():
        if key in named:
            found += _undeclared(value, named[key], root, f"{at}.{key}")
    return found


@pytest.mark.parametrize("chart", ["paved", "paved-platform"])
def test_every_value_is_declared_in_the_schema(chart: str) -> None:
    schema = json.loads((CHARTS / chart / "values.schema.json").read_text())
    values = yaml.safe_load((CHARTS / chart / "values.yaml").read_text())

    assert _undeclared(values, schema, schema, "") == []


def test_the_cluster_values_run_a_standby_that_waits_through_peering(
    toolchain: Toolchain,
) -> None:
    manifest = template(toolchain, "paved", f"--values={CLUSTER_VALUES}")
    operator = find(manifest, "Deployment", "t-paved")

    assert operator["spec"]["replicas"] == 2
    assert "--peering=paved" in operator["spec"]["template"]["spec"]["containers"][0]["args"]
    assert find(manifest, "ClusterKopfPeering", "paved")


def _env(deployment: dict[str, Any]) -> dict[str, dict[str, Any]]:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return {variable["name"]: variable for variable in container["env"]}


def test_the_operator_reaches_every_platform_service_by_its_dns_name(
    toolchain: Toolchain, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform = template(toolchain, "paved-platform", namespace="paved")
    operator = find(
        template(toolchain, "paved", f"--values={CLUSTER_VALUES}"), "Deployment", "t-paved"
    )
    env = _env(operator)
    for name, variable in env.items():
        if "value" in variable:
            monkeypatch.setenv(name, variable["value"])
    settings = OperatorSettings()

    for url in (
        settings.redis_url,
        settings.mlflow_tracking_uri,
        settings.prometheus_url,
        env["MLFLOW_S3_ENDPOINT_URL"]["value"],
    ):
        parts = urlsplit(url)
        service, namespace = str(parts.hostname).split(".")[:2]
        ports = [p["port"] for p in find(platform, "Service", service)["spec"]["ports"]]
        assert (namespace, parts.port) in [("paved", port) for port in ports], url
    secret = find(platform, "Secret", "paved-objectstore")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        reference = env[key]["valueFrom"]["secretKeyRef"]
        assert (reference["name"], reference["key"] in secret["stringData"]) == (
            "paved-objectstore",
            True,
        )


def test_mlflow_answers_its_service_names_and_a_port_forward_only(toolchain: Toolchain) -> None:
    platform = template(toolchain, "paved-platform", namespace="paved")
    (container,) = find(platform, "Deployment", "mlflow")["spec"]["template"]["spec"]["containers"]
    flag = next(a for a in container["args"] if a.startswith("--allowed-hosts="))
    allowed = flag.removeprefix("--allowed-hosts=").split(",")

    # The operator's address, and loopback at any port (`kubectl port-forward service/mlflow`).
    assert "mlflow.paved.svc.cluster.local:5000" in allowed
    assert {"localhost:*", "127.0.0.1:*"} <= set(allowed)
    assert "*" not in allowed  # any other Host header is refused (DNS rebinding)


def test_the_feature_workloads_are_apart_from_the_operator(toolchain: Toolchain) -> None:
    manifest = template(toolchain, "paved", f"--values={CLUSTER_VALUES}")
    operator = find(manifest, "Deployment", "t-paved")
    server = find(manifest, "Deployment", "t-paved-features")
    consumer = find(manifest, "Deployment", "t-paved-consume-user-activity-v1")

    assert server["spec"]["template"]["spec"]["containers"][0]["args"][:2] == ["features", "serve"]
    assert consumer["spec"]["template"]["spec"]["containers"][0]["args"][:3] == [
        "features",
        "consume",
        "user-activity-v1",
    ]
    # The operator's Deployment and metrics Service never select the feature workloads' Pods.
    selector = operator["spec"]["selector"]["matchLabels"].items()
    for workload in (server, consumer):
        labels = workload["spec"]["template"]["metadata"]["labels"].items()
        assert not selector <= labels
        assert workload["spec"]["template"]["spec"]["serviceAccountName"] == "t-paved-features"
        assert _env(workload).keys() == _env(operator).keys()  # the same settings
    role = find(manifest, "Role", "t-paved-features")
    # FeatureViews, and the BatchPredictions whose served predictions they read like features.
    readable = ["featureviews", "batchpredictions"]
    assert role["rules"] == [
        {"apiGroups": ["paved.dev"], "resources": readable, "verbs": ["get", "list"]}
    ]


def test_prometheus_configuration_is_valid_and_keeps_the_data_planes_labels(
    toolchain: Toolchain, tmp_path: Path
) -> None:
    config = find(template(toolchain, "paved-platform"), "ConfigMap", "prometheus")
    path = tmp_path / "prometheus.yml"
    path.write_text(config["data"]["prometheus.yml"])
    # The image's own promtool: Debian's Prometheus has no Kubernetes service discovery.
    built = subprocess.run(
        ["bash", str(ROOT / "images" / "prometheus" / "build-binary.sh"), str(cache_root())],
        capture_output=True,
        text=True,
        check=True,
    )

    checked = subprocess.run(
        [f"{built.stdout.strip()}/promtool", "check", "config", "--syntax-only", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    jobs = {job["job_name"]: job for job in yaml.safe_load(path.read_text())["scrape_configs"]}
    # The data plane labels each series with its deployment's namespace, as a Seldon
    # executor's Pod is labelled by a cluster's scrape: the built-in guardrails select on it.
    assert jobs["dataplane"]["honor_labels"] is True
    # By its fully qualified name: on kind the short one reached something else from Prometheus.
    assert jobs["dataplane"]["static_configs"] == [
        {"targets": ["dataplane.paved.svc.cluster.local:8000"]}
    ]


@pytest.mark.usefixtures("paved_crds")
def test_the_platforms_accounts_may_do_what_their_services_do_and_no_more(
    toolchain: Toolchain, kubectl: Kubectl, endpoints: Endpoints, namespace: str
) -> None:
    # The storage initializers' Secret in the release's own namespace: `default` is shared.
    served = f"--set=seldon.enabled=true,seldon.secretNamespaces={{{namespace}}}"
    release, _ = install(
        toolchain, "paved-platform", served, namespace=namespace, kubeconfig=endpoints.kubeconfig
    )
    keys = kubectl.get_json("secret", "paved-objectstore", "-n", namespace)["data"]
    upgrade = ["upgrade", release, str(CHARTS / "paved-platform"), f"--namespace={namespace}"]
    upgraded = helm(toolchain, *upgrade, served, kubeconfig=endpoints.kubeconfig)
    assert upgraded.returncode == 0, upgraded.stderr

    # Generated once: an upgrade keeps the keys the stored artifacts are guarded by, and the
    # storage initializers get the same pair.
    assert kubectl.get_json("secret", "paved-objectstore", "-n", namespace)["data"] == keys
    initializer = kubectl.get_json("secret", "seldon-init-container-secret", "-n", namespace)
    assert {k: initializer["data"][k] for k in keys} == keys
    assert set(keys) == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
    dataplane = f"system:serviceaccount:{namespace}:dataplane"
    for group, plural in (
        ("machinelearning.seldon.io", "seldondeployments"),
        ("serving.kserve.io", "inferenceservices"),
    ):
        assert allowed(kubectl, dataplane, group, plural, "watch", namespace="")
        assert allowed(kubectl, dataplane, group, plural, "patch", "status", namespace="team-a")
        assert not allowed(kubectl, dataplane, group, plural, "patch", namespace="team-a")
    crds = ("apiextensions.k8s.io", "customresourcedefinitions")
    assert allowed(kubectl, dataplane, *crds, "create", namespace="")
    assert not allowed(kubectl, dataplane, *crds, "delete", namespace="")
    prometheus = f"system:serviceaccount:{namespace}:prometheus"
    assert allowed(kubectl, prometheus, "", "pods", "watch", namespace="")
    seldon = f"system:serviceaccount:{namespace}:seldon-controller"
    for group, plural in (("apps", "deployments"), ("", "services")):
        assert allowed(kubectl, seldon, group, plural, "patch", namespace="team-a")
        assert allowed(kubectl, seldon, group, plural, "delete", namespace="team-a")
    assert allowed(
        kubectl,
        seldon,
        "machinelearning.seldon.io",
        "seldondeployments",
        "patch",
        "status",
        namespace="team-a",
    )
    assert not allowed(
        kubectl,
        seldon,
        "machinelearning.seldon.io",
        "seldondeployments",
        "patch",
        namespace="team-a",
    )
    for account in (dataplane, prometheus, seldon):
        assert not allowed(kubectl, account, "", "secrets", "get", namespace=namespace)


@pytest.mark.usefixtures("paved_crds")
def test_the_feature_workloads_may_read_their_namespaces_featureviews_only(
    toolchain: Toolchain, kubectl: Kubectl, endpoints: Endpoints, namespace: str
) -> None:
    release, _ = install(
        toolchain,
        "paved",
        "--set=featureServer.enabled=true",
        f"--set=featureServer.namespace={namespace}",
        namespace=namespace,
        kubeconfig=endpoints.kubeconfig,
    )

    account = f"system:serviceaccount:{namespace}:{release}-features"
    assert allowed(kubectl, account, "paved.dev", "featureviews", "list", namespace=namespace)
    assert not allowed(kubectl, account, "paved.dev", "featureviews", "patch", namespace=namespace)
    assert not allowed(kubectl, account, "paved.dev", "featureviews", "list", namespace="other")
    assert not allowed(kubectl, account, "paved.dev", "rollouts", "get", namespace=namespace)


def test_the_storage_initializers_get_the_object_stores_keys_where_models_are_served(
    toolchain: Toolchain,
) -> None:
    platform = template(
        toolchain,
        "paved-platform",
        "--set=seldon.secretNamespaces={team-a,team-b}",
        namespace="paved",
    )
    keys = find(platform, "Secret", "paved-objectstore")["stringData"]
    controller = find(platform, "Deployment", "seldon-controller")
    (container,) = controller["spec"]["template"]["spec"]["containers"]
    dataplane = find(platform, "Deployment", "dataplane")

    secrets = [
        d
        for d in documents(platform)
        if d["kind"] == "Secret" and d["metadata"]["name"] == "seldon-init-container-secret"
    ]
    assert sorted(s["metadata"]["namespace"] for s in secrets) == ["team-a", "team-b"]
    for secret in secrets:
        assert secret["stringData"] == {
            **keys,
            "AWS_ENDPOINT_URL": "http://objectstore.paved.svc:8080",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
    assert "--model-server-image=ghcr.io/paved-dev/paved-model-server:1.7.1" in container["args"]
    assert container["command"] == ["python", "-m", "paved_local.stand_ins"]
    assert "--model-servers" in dataplane["spec"]["template"]["spec"]["containers"][0]["args"]


def test_kfp_api_gets_the_objects_its_compiled_pipeline_reads(toolchain: Toolchain) -> None:
    kfp_api = [
        f"--values={CLUSTER_VALUES}",
        "--set=operator.pipelineRunner=kfp-api",
        "--set=training.mlflowTrackingUri=http://mlflow.paved.svc:5000",
    ]
    manifest = template(toolchain, "paved", *kfp_api)
    config = find(manifest, "ConfigMap", TRAINING_CONFIG)
    claim = find(manifest, "PersistentVolumeClaim", TRAINING_DATA)
    compiled = (ROOT / "pipelines/paved_pipelines/compiled/tabular-classifier.yaml").read_text()

    assert config["metadata"]["namespace"] == claim["metadata"]["namespace"] == "kubeflow"
    assert config["data"] == {
        "MLFLOW_TRACKING_URI": "http://mlflow.paved.svc:5000",
        "MLFLOW_S3_ENDPOINT_URL": "http://objectstore.paved.svc.cluster.local:8080",
    }
    assert claim["spec"]["accessModes"] == ["ReadOnlyMany"]
    # The names the task Pods look for, as the compiled pipeline's platform spec spells them.
    for name in (TRAINING_CONFIG, TRAINING_CREDENTIALS, TRAINING_DATA):
        assert f"constant: {name}" in compiled
    assert "mountPath: /data" in compiled
    kfp_local = template(toolchain, "paved", f"--values={CLUSTER_VALUES}")
    assert not [d for d in documents(kfp_local) if d["metadata"]["name"] == TRAINING_DATA]


@pytest.mark.usefixtures("paved_crds")
def test_kfp_api_runs_get_the_object_stores_keys_in_their_namespace(
    toolchain: Toolchain, kubectl: Kubectl, endpoints: Endpoints, namespace: str
) -> None:
    keys = {"AWS_ACCESS_KEY_ID": "paved-key", "AWS_SECRET_ACCESS_KEY": "s3cr3t"}
    literals = [f"--from-literal={k}={v}" for k, v in keys.items()]
    kubectl.run("create", "secret", "generic", "paved-objectstore", "-n", namespace, *literals)

    install(
        toolchain,
        "paved",
        "--set=operator.pipelineRunner=kfp-api",
        f"--set=training.namespace={namespace}",
        namespace=namespace,
        kubeconfig=endpoints.kubeconfig,
    )

    copied = kubectl.get_json("secret", TRAINING_CREDENTIALS, "-n", namespace)["data"]
    assert {k: base64.b64decode(v).decode() for k, v in copied.items()} == keys
