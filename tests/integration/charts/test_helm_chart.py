"""The Helm chart: lints clean, refuses bad values at install, installs for real on the local
API server, and grants the operator what it uses and nothing more."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest
import yaml

from paved.settings import OperatorSettings
from paved_local.platform import Endpoints
from paved_local.toolchain import Toolchain
from tests.support.helm import helm, install
from tests.support.kubectl import Kubectl, allowed, as_service_account

ROOT = Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "paved"


def test_chart_lints_clean(toolchain: Toolchain) -> None:
    linted = helm(toolchain, "lint", str(CHART), "--strict", "--kube-version=1.36.3")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_alert_rules_pass_their_promtool_tests() -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool comes with the Debian prometheus package"
    tested = subprocess.run(
        [promtool, "test", "rules", str(CHART / "tests" / "alerts_test.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


# Settings the pod gets from the Deployment's arguments, or in-cluster defaults, not from values.
FROM_ARGUMENTS_OR_IN_CLUSTER = {
    "kubeconfig",
    "metrics_address",
    "metrics_port",
    "health_address",
    "health_port",
    "peering",
    "namespaces",
}


def test_every_operator_setting_a_cluster_needs_is_a_chart_value(
    toolchain: Toolchain, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = {
        "operator.prometheusUrl": "http://prometheus.observability:9090",
        "operator.pipelineRunner": "kfp-api",
        "operator.kfpHost": "http://kfp.ml:8888",
        "operator.codeCommit": "0123abc",
        "operator.sparkMaster": "spark://spark:7077",
        "operator.verbose": "true",
    }
    flags = [f"--set={name}={value}" for name, value in chosen.items()]
    rendered = helm(toolchain, "template", "t", str(CHART), "--kube-version=1.36.3", *flags)
    assert rendered.returncode == 0, rendered.stderr
    (deployment,) = (d for d in yaml.safe_load_all(rendered.stdout) if d["kind"] == "Deployment")
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    environment = {variable["name"]: variable["value"] for variable in container["env"]}

    for name in [n for n in os.environ if n.startswith("PAVED_")]:
        monkeypatch.delenv(name)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = OperatorSettings()

    assert settings.prometheus_url == chosen["operator.prometheusUrl"]
    assert (settings.pipeline_runner, settings.kfp_host) == ("kfp-api", "http://kfp.ml:8888")
    assert (settings.code_commit, settings.spark_master) == ("0123abc", "spark://spark:7077")
    assert settings.verbose
    from_values = {n.removeprefix("PAVED_").lower() for n in environment if n.startswith("PAVED_")}
    assert set(OperatorSettings.model_fields) - from_values == FROM_ARGUMENTS_OR_IN_CLUSTER


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["rbac.scope=namespaced"], "at '/rbac/watchNamespaces': minItems"),
        (["replicas=5"], "at '/replicas': maximum: got 5, want 2"),
        (["operator.redisUrl=localhost:6379"], "at '/operator/redisUrl'"),
        (["operator.offlineEngine=pandas"], "at '/operator/offlineEngine'"),
        (["rbac.scop=cluster"], "additional properties 'scop' not allowed"),
        (["operator.pipelineRunner=airflow"], "at '/operator/pipelineRunner'"),
    ],
    ids=[
        "namespaced-without-namespaces",
        "too-many-replicas",
        "redis-url-without-scheme",
        "unknown-engine",
        "misspelt-key",
        "unknown-runner",
    ],
)
def test_a_wrong_value_fails_at_install_with_a_clear_message(
    toolchain: Toolchain, values: list[str], message: str
) -> None:
    flags = [f"--set={v}" for v in values]
    rendered = helm(toolchain, "template", "t", str(CHART), "--kube-version=1.36.3", *flags)
    assert rendered.returncode != 0
    assert message in rendered.stderr


@pytest.mark.usefixtures("paved_crds")
def test_install_lands_every_object_and_rbac_is_least_privilege(
    toolchain: Toolchain, kubectl: Kubectl, endpoints: Endpoints, namespace: str
) -> None:
    release, notes = install(
        toolchain, "paved", namespace=namespace, kubeconfig=endpoints.kubeconfig
    )
    assert "kubectl get paved -A" in notes  # NOTES.txt says what to do next

    manifest = helm(
        toolchain,
        "get",
        "manifest",
        release,
        f"--namespace={namespace}",
        kubeconfig=endpoints.kubeconfig,
    ).stdout
    listed = kubectl.run("get", "-f", "-", "-o", "json", stdin=manifest)
    landed = {
        (item["kind"], item["metadata"]["name"]) for item in json.loads(listed.stdout)["items"]
    }
    assert ("Deployment", release) in landed
    assert ("ServiceAccount", release) in landed
    for purpose in ("resources", "serving", "events", "peering", "discovery", "pipelines"):
        assert ("ClusterRole", f"{release}-{purpose}") in landed
        assert ("ClusterRoleBinding", f"{release}-{purpose}") in landed

    deployment = kubectl.get_json("deployment", release, "-n", namespace)
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert deployment["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True

    account = f"system:serviceaccount:{namespace}:{release}"
    assert allowed(kubectl, account, "paved.dev", "rollouts", "patch", "status")
    assert allowed(kubectl, account, "paved.dev", "modelversions", "watch")
    assert allowed(kubectl, account, "machinelearning.seldon.io", "seldondeployments", "patch")
    assert allowed(kubectl, account, "serving.kserve.io", "inferenceservices", "patch")
    assert allowed(kubectl, account, "", "events", "create")
    assert allowed(kubectl, account, "", "configmaps", "get")  # a team's compiled pipeline
    assert not allowed(kubectl, account, "", "configmaps", "update")
    assert not allowed(kubectl, account, "", "secrets", "get")
    assert not allowed(kubectl, account, "", "pods", "delete")
    assert not allowed(kubectl, account, "paved.dev", "featureviews", "delete")


# Everything the operator does to objects in the namespaces it serves (the chart's Roles).
OPERATOR_ACCESS = [
    *[
        ("paved.dev", plural, verb, "")
        for plural in ("featureviews", "modelversions", "rollouts")
        for verb in ("get", "list", "watch", "patch", "update")
    ],
    *[
        ("paved.dev", plural, verb, "status")
        for plural in ("featureviews", "modelversions", "rollouts")
        for verb in ("get", "patch", "update")
    ],
    *[
        ("machinelearning.seldon.io", "seldondeployments", verb, "")
        for verb in ("get", "list", "watch", "create", "patch")
    ],
    *[
        ("serving.kserve.io", "inferenceservices", verb, "")
        for verb in ("get", "list", "watch", "patch")
    ],
    ("", "events", "create", ""),
    ("events.k8s.io", "events", "create", ""),
    ("", "configmaps", "get", ""),  # a team's compiled pipeline, read in its own namespace
]


@pytest.mark.usefixtures("paved_crds")
def test_a_namespaced_install_can_touch_its_namespaces_and_no_other(
    toolchain: Toolchain, kubectl: Kubectl, endpoints: Endpoints, namespace: str, tmp_path: Path
) -> None:
    other = f"t-{uuid.uuid4().hex[:10]}"  # another team's
    kubectl.run("create", "namespace", other)
    release, _ = install(
        toolchain,
        "paved",
        "--set=rbac.scope=namespaced",
        f"--set=rbac.watchNamespaces={{{namespace}}}",
        namespace=namespace,
        kubeconfig=endpoints.kubeconfig,
    )

    account = f"system:serviceaccount:{namespace}:{release}"
    for group, resource, verb, subresource in OPERATOR_ACCESS:
        asked = (group, resource, verb, subresource)
        assert allowed(kubectl, account, *asked, namespace=namespace), asked
        assert not allowed(kubectl, account, *asked, namespace=other), asked
    # Nor across namespaces: a cluster-wide list or watch would read the other team's too.
    for verb in ("list", "watch"):
        assert not allowed(kubectl, account, "paved.dev", "featureviews", verb, namespace="")

    # The same, asked with the ServiceAccount's own token as the operator's pod has it.
    as_operator = as_service_account(kubectl, namespace, release, tmp_path)
    assert as_operator.run("get", "featureviews.paved.dev", "-n", namespace).returncode == 0
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": "paved-"},
        "involvedObject": {"kind": "FeatureView", "name": "user-activity-v1"},
        "reason": "Materialized",
        "message": "written where it may not be",
    }
    for refused in (
        ["get", "featureviews.paved.dev", "-n", other],
        ["get", "modelversions.paved.dev", "-n", other],
        ["get", "rollouts.paved.dev", "-A"],
        ["get", "seldondeployments.machinelearning.seldon.io", "-n", other],
        ["patch", "rollout.paved.dev", "any", "-n", other, "--type=merge", "-p", "{}"],
        [
            "patch",
            "seldondeployment.machinelearning.seldon.io",
            "any",
            "-n",
            other,
            "--type=merge",
            "-p",
            "{}",
        ],
    ):
        answer = as_operator.run(*refused, check=False)
        assert answer.returncode != 0, refused
        assert "Forbidden" in answer.stderr, answer.stderr
    posted = as_operator.run("create", "-n", other, "-f", "-", stdin=json.dumps(event), check=False)
    assert "Forbidden" in posted.stderr, posted.stderr


def test_the_operators_token_reads_paved_objects_and_nothing_it_was_not_given(
    toolchain: Toolchain, operator_kubeconfig: Path
) -> None:
    """The credentials the e2e tier runs the operator with: what it may not do is refused."""
    as_operator = Kubectl(toolchain.kubectl, operator_kubeconfig)
    assert as_operator.run("get", "rollouts.paved.dev", "-A", check=False).returncode == 0
    for refused in (
        ["get", "secrets", "-A"],
        ["delete", "pod", "any", "-n", "default"],  # refused before it is looked up
        ["delete", "rollout.paved.dev", "any", "-n", "default"],
        ["create", "namespace", "taken-over"],
    ):
        answer = as_operator.run(*refused, check=False)
        assert answer.returncode != 0, refused
        assert "Forbidden" in answer.stderr, answer.stderr


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([], set()),
        (["replicas=2"], {("ClusterKopfPeering", None)}),
        (
            ["replicas=2", "rbac.scope=namespaced", "rbac.watchNamespaces={ml,fraud}"],
            {("KopfPeering", "ml"), ("KopfPeering", "fraud")},
        ),
    ],
    ids=["one-replica", "standby-cluster-wide", "standby-namespaced"],
)
def test_a_standby_replica_comes_with_the_peering_object_it_waits_on(
    toolchain: Toolchain, values: list[str], expected: set[tuple[str, str | None]]
) -> None:
    flags = [f"--set={v}" for v in values]
    rendered = helm(toolchain, "template", "t", str(CHART), "--kube-version=1.36.3", *flags)
    assert rendered.returncode == 0, rendered.stderr
    documents = [d for d in yaml.safe_load_all(rendered.stdout) if d]
    peerings = {
        (d["kind"], d["metadata"].get("namespace"))
        for d in documents
        if d["apiVersion"] == "kopf.dev/v1"
    }
    assert peerings == expected
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    arguments = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert ("--peering=paved" in arguments) == bool(expected)
