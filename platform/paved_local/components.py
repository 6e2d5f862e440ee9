"""The embedded platform's components, one row each: how each starts, how it tells it is ready,
how long it may take, and what it waits for. `LocalPlatform.up` is a loop over this table.

To add a component, write its command and its readiness check and add a row to `TABLE`; a port
is assigned under its name. Order matters once: `down` stops the table from the end.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import sys
from collections.abc import Callable, Mapping
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Final

import httpx
import yaml

from paved_local import object_store
from paved_local.certs import ClusterPki
from paved_local.errors import PrerequisiteMissingError
from paved_local.toolchain import ArgoCd, Toolchain

ETCD: Final = "etcd"
APISERVER: Final = "kube-apiserver"
REDIS: Final = "redis"
PROMETHEUS: Final = "prometheus"
OBJECT_STORE: Final = "object-store"
MLFLOW: Final = "mlflow"
DATAPLANE: Final = "dataplane"

# Debian package that provides each system binary the platform runs.
SYSTEM_PACKAGES: Final = {"redis-server": "redis-server", "prometheus": "prometheus"}
# MLflow phones home unless told not to; tests and the platform talk only to loopback.
QUIET_ENVIRONMENT: Final = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


@dataclass(frozen=True)
class Site:
    """Where the components run: the platform's directory, ports, binaries and PKI."""

    directory: Path
    ports: Mapping[str, int]
    toolchain: Toolchain
    pki: ClusterPki
    kubeconfig: Path
    argocd: ArgoCd | None = None  # built only for `paved local up --with-argocd`

    def url(self, name: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.ports[name]}"

    def object_store(self) -> object_store.ObjectStore:
        return object_store.object_store(self.directory, self.url(OBJECT_STORE))


@dataclass(frozen=True)
class Launch:
    """A component's command line and what it adds to its environment."""

    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)


# Does the component listening on this port answer? The context trusts the platform's CA.
Ready = Callable[[int, ssl.SSLContext | bool], bool]


@dataclass(frozen=True)
class Component:
    """One process of the platform: all that `up`, `down` and `status` know about it."""

    name: str  # its port, log and state entry go by this name
    executable: str  # what its process runs as: a stored pid is ours only while it runs this
    command: Callable[[Site], Launch]  # may write the files the command reads first
    _: KW_ONLY
    ready: Ready
    timeout_seconds: float  # to be ready after it starts
    after: tuple[str, ...] = ()  # components that must be ready before it starts
    restarts_with: tuple[str, ...] = ()  # bound to their ports: restarted whenever they are
    extra_ports: tuple[str, ...] = ()  # ports it binds besides its own


def _http(path: str, *, tls: bool = False, expect: str | None = None) -> Ready:
    def ready(port: int, ca: ssl.SSLContext | bool) -> bool:
        url = f"{'https' if tls else 'http'}://127.0.0.1:{port}{path}"
        try:
            response = httpx.get(url, verify=ca if tls else False, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and (expect is None or expect in response.text)

    return ready


def _answers_http(port: int, _ca: ssl.SSLContext | bool) -> bool:
    """Whether an HTTP server answers at all: the object store refuses what is not signed."""
    try:
        response = httpx.get(f"http://127.0.0.1:{port}/", timeout=2.0)
    except httpx.HTTPError:
        return False
    return response.status_code < 500


def _redis_pong(port: int, _ca: ssl.SSLContext | bool) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def _etcd(site: Site) -> Launch:
    client, peer = site.url(ETCD), site.url(f"{ETCD}-peer")
    return Launch(
        [
            str(site.toolchain.etcd),
            "--name=default",
            f"--data-dir={site.directory / 'etcd'}",
            f"--listen-client-urls={client}",
            f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}",
            f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=default={peer}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ]
    )


def _apiserver(site: Site) -> Launch:
    pki = site.pki
    return Launch(
        [
            str(site.toolchain.kube_apiserver),
            f"--etcd-servers={site.url(ETCD)}",
            "--bind-address=127.0.0.1",
            f"--secure-port={site.ports[APISERVER]}",
            # Without it the API server looks for a default route's address and dies in a
            # network namespace that has none.
            "--advertise-address=127.0.0.1",
            f"--tls-cert-file={pki.serving.certificate}",
            f"--tls-private-key-file={pki.serving.key}",
            f"--client-ca-file={pki.ca.certificate}",
            "--authorization-mode=RBAC",
            f"--service-account-issuer={site.url(APISERVER, 'https')}/",
            f"--service-account-key-file={pki.service_account_public}",
            f"--service-account-signing-key-file={pki.service_account_private}",
            "--service-cluster-ip-range=10.0.0.0/24",
            "--allow-privileged=true",
            # No controller-manager creates the `default` ServiceAccount this plugin wants.
            "--disable-admission-plugins=ServiceAccount",
            # A loopback address in the `kubernetes` Endpoints fails validation: log noise.
            "--endpoint-reconciler-type=none",
        ]
    )


def _redis(site: Site) -> Launch:
    data = site.directory / "redis"
    data.mkdir(parents=True, exist_ok=True)
    argv = [system_binary("redis-server"), "--bind", "127.0.0.1"]
    argv += ["--port", str(site.ports[REDIS]), "--dir", str(data)]
    argv += ["--appendonly", "yes", "--save", "", "--daemonize", "no"]
    return Launch(argv)


def prometheus_targets(directory: Path) -> Path:
    """A `<name>.json` file-SD target list put here is scraped within seconds."""
    return directory / "prometheus" / "targets"


def _prometheus(site: Site) -> Launch:
    targets = prometheus_targets(site.directory)
    targets.mkdir(parents=True, exist_ok=True)
    own = {
        "job_name": "prometheus",
        "static_configs": [{"targets": [f"127.0.0.1:{site.ports[PROMETHEUS]}"]}],
    }
    dropped = {"files": [str(targets / "*.json")], "refresh_interval": "2s"}
    config = {
        "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
        "scrape_configs": [own, {"job_name": "paved", "file_sd_configs": [dropped]}],
    }
    path = site.directory / "prometheus" / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return Launch(
        [
            system_binary("prometheus"),
            f"--config.file={path}",
            f"--storage.tsdb.path={site.directory / 'prometheus' / 'data'}",
            f"--web.listen-address=127.0.0.1:{site.ports[PROMETHEUS]}",
            "--web.enable-lifecycle",
            "--log.level=warn",
        ]
    )


def _object_store(site: Site) -> Launch:
    store = site.object_store()
    buckets = object_store.data(site.directory)
    (buckets / object_store.BUCKET).mkdir(parents=True, exist_ok=True)
    config = object_store.directory(site.directory) / "rclone.conf"
    config.touch()  # its own, empty: never the user's remotes
    argv = [str(site.toolchain.rclone), "serve", "s3", f"--config={config}"]
    argv += [f"--addr=127.0.0.1:{site.ports[OBJECT_STORE]}"]
    argv += [f"--auth-key={store.access_key},{store.secret_key}", "--log-level=NOTICE"]
    return Launch([*argv, str(buckets)])


def _mlflow(site: Site) -> Launch:
    store = site.directory / "mlflow"
    store.mkdir(parents=True, exist_ok=True)
    return Launch(
        [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            f"--backend-store-uri=sqlite:///{store / 'mlflow.db'}",
            # Clients write and read the bucket themselves, as against S3 on a cluster: a
            # version's files are at an s3:// URI a storage initializer fetches.
            f"--default-artifact-root={object_store.ARTIFACT_ROOT}",
            "--no-serve-artifacts",
            "--host=127.0.0.1",
            f"--port={site.ports[MLFLOW]}",
            "--workers=1",
        ],
        # MLflow 3's job runner (GenAI evaluation jobs) forks a dozen worker processes paved
        # never uses: a gigabyte and a core on a small machine.
        env={
            **QUIET_ENVIRONMENT,
            **site.object_store().environment(),
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        },
    )


def prediction_log_root(directory: Path) -> Path:
    """Where the data plane logs predictions and feedback: `<here>/<namespace>/predictions/…`,
    a data root laid out as the operator's (`core/prediction_log.py`)."""
    return directory / "data"


def _dataplane(site: Site) -> Launch:
    # Prometheus scrapes the data plane as it would Seldon's executors on a cluster.
    targets = prometheus_targets(site.directory)
    targets.mkdir(parents=True, exist_ok=True)
    target = {
        "targets": [f"127.0.0.1:{site.ports[DATAPLANE]}"],
        "labels": {"job": "seldon-executors"},
    }
    (targets / f"{DATAPLANE}.json").write_text(json.dumps([target]))
    argv = [sys.executable, "-m", "paved_local.dataplane", f"--port={site.ports[DATAPLANE]}"]
    # Where the storage initializer puts the models it fetched, as a pod's /mnt/models.
    argv += [f"--model-cache={site.directory / DATAPLANE / 'models'}"]
    argv += [f"--prediction-log-root={prediction_log_root(site.directory)}"]
    argv += [f"--prediction-log-rate={os.environ.get('PAVED_PREDICTION_LOG_RATE', '1.0')}"]
    return Launch(
        [*argv, f"--kubeconfig={site.kubeconfig}"],
        # One OpenMP thread per scoring call: with several threads, a one-row call spends more
        # time waking them than scoring (and fights training for cores).
        env={
            **QUIET_ENVIRONMENT,
            **site.object_store().environment(),
            "OMP_NUM_THREADS": "1",
            "MLFLOW_TRACKING_URI": site.url(MLFLOW),
        },
    )


TABLE: Final[tuple[Component, ...]] = (
    # First: MLflow waits for it, and it is ready in a moment.
    Component(OBJECT_STORE, "rclone", _object_store, ready=_answers_http, timeout_seconds=30.0),
    Component(
        ETCD,
        "etcd",
        _etcd,
        ready=_http("/health", expect='"health":"true"'),
        timeout_seconds=30.0,
        extra_ports=(f"{ETCD}-peer",),
    ),
    Component(
        APISERVER,
        "kube-apiserver",
        _apiserver,
        ready=_http("/readyz", tls=True, expect="ok"),
        timeout_seconds=120.0,
        after=(ETCD,),
        restarts_with=(ETCD,),
    ),
    Component(REDIS, "redis-server", _redis, ready=_redis_pong, timeout_seconds=30.0),
    Component(PROMETHEUS, "prometheus", _prometheus, ready=_http("/-/ready"), timeout_seconds=60.0),
    # Its artifacts are in the object store.
    Component(
        MLFLOW,
        "mlflow",
        _mlflow,
        ready=_http("/health"),
        timeout_seconds=180.0,
        after=(OBJECT_STORE,),
    ),
    # It serves models from the object store, registered in MLflow, and reads the API server.
    Component(
        DATAPLANE,
        "paved_local.dataplane",
        _dataplane,
        ready=_http("/healthz"),
        timeout_seconds=60.0,
        after=(APISERVER, OBJECT_STORE, MLFLOW),
    ),
)
COMPONENTS: Final = tuple(component.name for component in TABLE)


def system_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PrerequisiteMissingError(
            f"`{name}` is not installed. Install the Debian package: "
            f"`sudo apt-get install {SYSTEM_PACKAGES[name]}` (or run `make setup`)."
        )
    return found
