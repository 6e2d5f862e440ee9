"""Session fixtures: the local platform starts once, is stopped at the end even when tests fail.

Set PAVED_TEST_PLATFORM_DIR to keep a platform running between runs (faster local iteration):
the fixture then reuses it and leaves it up.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import httpx
import pytest
import yaml

from paved.api.crds import ALL_KINDS
from paved_local.operator_process import OperatorProcess
from paved_local.platform import Endpoints, LocalPlatform
from paved_local.toolchain import Toolchain, ensure_toolchain
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "paved"
SERVING_CRDS = ROOT / "platform" / "paved_local" / "crds"
# What `tests/conftest.py` stops before the first cluster-tier test, in order: no cluster test
# uses the local platform, and its operator, data plane and MLflow otherwise go on reconciling
# and serving what the earlier tiers left, on the cores the kind cluster needs. Each stop is
# idempotent: the fixture's own teardown calls it again at the end of the session.
BEFORE_CLUSTER_TIER: list[Callable[[], object]] = []


@pytest.fixture(scope="session")
def local_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalPlatform]:
    kept = os.environ.get("PAVED_TEST_PLATFORM_DIR")
    platform = LocalPlatform(Path(kept) if kept else tmp_path_factory.mktemp("platform"))
    try:
        platform.up()
        if not kept:
            BEFORE_CLUSTER_TIER.append(platform.down)
        yield platform
    finally:
        if not kept:
            platform.down()


@pytest.fixture(scope="session")
def endpoints(local_platform: LocalPlatform) -> Endpoints:
    found = local_platform.endpoints()
    # The tests log and fetch models as a user's shell does after `paved local env`: straight
    # to and from the object store.
    os.environ.update(found.storage)
    return found


@pytest.fixture(scope="session")
def toolchain() -> Toolchain:
    return ensure_toolchain()


@pytest.fixture(scope="session")
def kubectl(endpoints: Endpoints, toolchain: Toolchain) -> Kubectl:
    return Kubectl(toolchain.kubectl, endpoints.kubeconfig)


@pytest.fixture
def namespace(kubectl: Kubectl) -> str:
    """A fresh namespace per test: without a controller-manager a namespace is never deleted."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    kubectl.run("create", "namespace", name)
    return name


@pytest.fixture(scope="session")
def paved_crds(kubectl: Kubectl) -> None:
    """paved's CRDs, installed as a user would: `kubectl apply -f crds/`."""
    kubectl.run("apply", "-f", str(ROOT / "crds"))
    # Seldon's SeldonDeployment and KServe's InferenceService, as the local platform serves them
    # (no Seldon or KServe controller here).
    kubectl.run("apply", "-f", str(SERVING_CRDS))
    crds = [kind.crd_name for kind in ALL_KINDS] + [
        "seldondeployments.machinelearning.seldon.io",
        "inferenceservices.serving.kserve.io",
        "kopfpeerings.kopf.dev",
    ]
    for crd in crds:
        kubectl.run("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=60s")
    # The sign-off's admission policy takes PromotionPolicies as its parameters. The API server's
    # admission learns a new kind a moment after its CRD is Established and until then refuses
    # every ModelVersion write ("failed to find resource referenced by paramKind"); and a kind
    # whose CRD was just created or changed can be "not found" for a moment after Established
    # (ServiceUnavailable). Ready: the example ModelVersion passes a server-side dry run.
    wait_for(
        lambda: _dry_run_model_version(kubectl),
        timeout=60,
        what="the API server to serve ModelVersions through its admission policies",
    )


def _dry_run_model_version(kubectl: Kubectl) -> bool:
    example = str(ROOT / "examples" / "02-modelversion.yaml")
    tried = kubectl.run("apply", "--dry-run=server", "-n", "default", "-f", example, check=False)
    return tried.returncode == 0


OPERATOR_NAMESPACE = "paved-system"
OPERATOR_RELEASE = "paved-e2e"


@pytest.fixture(scope="session")
def operator_kubeconfig(
    kubectl: Kubectl,
    toolchain: Toolchain,
    endpoints: Endpoints,
    paved_crds: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """The chart's ServiceAccount's credentials, as the operator has them in its pod. The e2e
    tier runs the operator with them rather than as admin, so every e2e test also checks that
    the chart's least-privilege RBAC is enough for what the operator does."""
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}}
    kubectl.apply(yaml.safe_dump(namespace))
    installed = subprocess.run(
        [
            str(toolchain.helm),
            "upgrade",
            "--install",
            OPERATOR_RELEASE,
            str(CHART),
            f"--namespace={OPERATOR_NAMESPACE}",
            "--set=rbac.scope=cluster",
            f"--kubeconfig={endpoints.kubeconfig}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert installed.returncode == 0, installed.stderr
    token = kubectl.run(
        "create", "token", OPERATOR_RELEASE, f"--namespace={OPERATOR_NAMESPACE}", "--duration=24h"
    ).stdout.strip()
    admin = yaml.safe_load(endpoints.kubeconfig.read_text())
    cluster = admin["clusters"][0]
    account = f"system:serviceaccount:{OPERATOR_NAMESPACE}:{OPERATOR_RELEASE}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [cluster],
        "users": [{"name": account, "user": {"token": token}}],
        "contexts": [{"name": account, "context": {"cluster": cluster["name"], "user": account}}],
        "current-context": account,
    }
    path = tmp_path_factory.mktemp("operator-account") / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    path.chmod(0o600)
    return path


class RunningOperator(OperatorProcess):
    """The platform's operator process with the tests' defaults; `start` waits until it answers."""

    def __init__(
        self,
        endpoints: Endpoints,
        root: Path,
        kubeconfig: Path,
        # Test namespaces only (`namespace` makes t-<hex>): the demo's test runs an operator of
        # its own, and two operators must never reconcile one object.
        namespaces: Sequence[str] = ("t-*",),
        options: Sequence[str] = (),
        environment: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(
            endpoints,
            root,
            kubeconfig=kubeconfig,
            namespaces=namespaces,
            options=options,
            environment={"PAVED_CODE_COMMIT": "test-commit", **(environment or {})},
        )

    def start(self) -> None:
        super().start()
        # Start-up imports MLflow, DuckDB and kopf: slow on a busy machine.
        self.wait_until_live(timeout_seconds=120)

    def reconciles(self, kind: str) -> float:
        """How many times this operator has reconciled objects of `kind` (0 while standing by)."""
        return self.metric("paved_reconcile_total", kind=kind)

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the operator's samples of `name` that carry `labels` (0 when none do)."""
        wanted = [f'{label}="{value}"' for label, value in labels.items()]
        total = 0.0
        for line in httpx.get(self.metrics_url, timeout=5).text.splitlines():
            series, _, value = line.rpartition(" ")
            if series.split("{")[0] == name and all(w in series for w in wanted):
                total += float(value)
        return total


@pytest.fixture(scope="session")
def paved_operator(
    endpoints: Endpoints, operator_kubeconfig: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningOperator]:
    running = RunningOperator(endpoints, tmp_path_factory.mktemp("operator"), operator_kubeconfig)
    BEFORE_CLUSTER_TIER.insert(0, running.stop)  # before the API server it talks to
    try:
        running.start()
        yield running
    finally:
        running.stop()
