"""`paved local`: bring the embedded platform up on loopback, report on it, tear it down.

All state lives in one directory (`PAVED_LOCAL_DIR`, by default under ~/.local/state): data,
logs, the PKI, the kubeconfig and `state.json` with each component's pid and ports. `up` is
idempotent: what runs and answers is left alone, what is missing is started. Stored ports are
reused while they are free, so a kubeconfig handed out stays valid across `down` and `up`.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import json
import os
import shutil
import socket
import ssl
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import httpx
import yaml
from pydantic import BaseModel

from paved_local import processes
from paved_local.certs import ClusterPki, KeyPair, ensure_pki, issue_client_certificate
from paved_local.errors import ComponentFailedError, PrerequisiteMissingError
from paved_local.toolchain import Toolchain, ensure_toolchain

ETCD: Final = "etcd"
APISERVER: Final = "kube-apiserver"
REDIS: Final = "redis"
PROMETHEUS: Final = "prometheus"
MLFLOW: Final = "mlflow"
DATAPLANE: Final = "dataplane"
COMPONENTS: Final = (ETCD, APISERVER, REDIS, PROMETHEUS, MLFLOW, DATAPLANE)

# Debian package that provides each system binary the platform runs.
SYSTEM_PACKAGES: Final = {"redis-server": "redis-server", "prometheus": "prometheus"}

_START_TIMEOUT_SECONDS: Final = {
    ETCD: 30.0,
    APISERVER: 120.0,
    REDIS: 30.0,
    PROMETHEUS: 60.0,
    MLFLOW: 180.0,
    DATAPLANE: 60.0,
}
# Running components that listen get this long, together, to answer before `up` judges them hung
# and restarts them: on a busy machine a healthy one can miss a 2-second probe, and restarting it
# breaks its clients.
ANSWER_GRACE_SECONDS: Final = 15.0
# MLflow phones home unless told not to; tests and the platform talk only to loopback.
QUIET_ENVIRONMENT: Final = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}


def default_directory() -> Path:
    explicit = os.environ.get("PAVED_LOCAL_DIR")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "paved" / "local"


class ComponentState(BaseModel):
    pid: int
    executable: str


class PlatformState(BaseModel):
    ports: dict[str, int] = {}
    components: dict[str, ComponentState] = {}
    toolchain_bin_dirs: list[str] = []


@dataclass(frozen=True)
class Endpoints:
    kubeconfig: Path
    apiserver: str
    mlflow: str
    redis: str
    prometheus: str
    dataplane: str
    bin_dirs: tuple[str, ...]

    def exports(self) -> dict[str, str]:
        """The environment a shell (or a test) needs to reach the platform."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "MLFLOW_TRACKING_URI": self.mlflow,
            "PAVED_REDIS_URL": self.redis,
            "PAVED_PROMETHEUS_URL": self.prometheus,
            "PAVED_DATAPLANE_URL": self.dataplane,
            **QUIET_ENVIRONMENT,
        }


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    ready: bool
    address: str


@dataclass
class _Launch:
    """How to start one component and how to tell it is ready."""

    name: str
    executable: str
    argv: list[str]
    ready: Callable[[], bool]
    env: dict[str, str] = field(default_factory=dict)


def _http_ok(url: str, verify: ssl.SSLContext | bool = False, expect: str | None = None) -> bool:
    try:
        response = httpx.get(url, verify=verify, timeout=2.0)
    except httpx.HTTPError:
        return False
    return response.status_code == 200 and (expect is None or expect in response.text)


def _redis_pong(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0) as connection:
            connection.sendall(b"PING\r\n")
            return connection.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class LocalPlatform:
    """The local platform rooted at one directory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = (directory or default_directory()).absolute()
        self.state_file = self.directory / "state.json"
        self.kubeconfig = self.directory / "kubeconfig"
        self.logs = self.directory / "logs"

    # -- state ---------------------------------------------------------------------------------

    def _load(self) -> PlatformState:
        if not self.state_file.is_file():
            return PlatformState()
        return PlatformState.model_validate_json(self.state_file.read_text())

    def _save(self, state: PlatformState) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(state.model_dump_json(indent=2))
        temporary.replace(self.state_file)

    def endpoints(self) -> Endpoints:
        state = self._load()
        if not state.ports:
            raise ComponentFailedError(
                f"no local platform in {self.directory}: run `paved local up` first"
            )
        return self._endpoints(state)

    def _endpoints(self, state: PlatformState) -> Endpoints:
        ports = state.ports
        return Endpoints(
            kubeconfig=self.kubeconfig,
            apiserver=f"https://127.0.0.1:{ports[APISERVER]}",
            mlflow=f"http://127.0.0.1:{ports[MLFLOW]}",
            redis=f"redis://127.0.0.1:{ports[REDIS]}/0",
            prometheus=f"http://127.0.0.1:{ports[PROMETHEUS]}",
            dataplane=f"http://127.0.0.1:{ports[DATAPLANE]}",
            bin_dirs=tuple(state.toolchain_bin_dirs),
        )

    # -- up --------------------------------------------------------------------------------------

    def up(
        self, apiserver_port: int | None = None, log: Callable[[str], None] = print
    ) -> Endpoints:
        """Start whatever is not running; leave alone what runs and answers."""
        check_system_prerequisites()
        toolchain = ensure_toolchain()
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.exclusive():
            return self._up(toolchain, apiserver_port, log)

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the platform's lock: one `up` or `down` at a time, across processes (two at once
        would both see a component down and start it twice, the second on a taken port).

        Not re-entrant: `up` or `down` inside this block waits for ever."""
        path = self.directory / "platform.lock"
        while True:
            self.directory.mkdir(parents=True, exist_ok=True)
            lock = path.open("a")
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                held = os.stat(path)
            except FileNotFoundError:
                held = None
            opened = os.fstat(lock.fileno())
            if held is not None and (held.st_dev, held.st_ino) == (opened.st_dev, opened.st_ino):
                break
            # The holder deleted the platform's directory (`down --delete-data`) with this lock
            # file in it: lock the file that now stands at the path instead.
            lock.close()
        try:
            yield
        finally:
            lock.close()  # releases the lock

    def _up(
        self, toolchain: Toolchain, apiserver_port: int | None, log: Callable[[str], None]
    ) -> Endpoints:
        state = self._load()
        state.toolchain_bin_dirs = [str(d) for d in toolchain.bin_dirs]
        pki = ensure_pki(self.directory / "pki", dt.datetime.now(dt.UTC))

        needed: list[str] = []
        deadline = time.monotonic() + ANSWER_GRACE_SECONDS
        for name in COMPONENTS:
            # The API server is bound to etcd's port: when etcd restarts, so must the API server.
            if (name == APISERVER and ETCD in needed) or not self._healthy(state, name, deadline):
                needed.append(name)
        if apiserver_port is not None and state.ports.get(APISERVER) != apiserver_port:
            processes.require_free(apiserver_port, APISERVER)
            if APISERVER not in needed:
                needed.append(APISERVER)
        for name in needed:
            self._stop_component(state, name)
        self._assign_ports(state, needed, apiserver_port)
        self._save(state)
        self._write_kubeconfig(state, pki)
        if not needed:
            log(f"local platform already up in {self.directory}")
            return self._endpoints(state)

        launches = {name: self._launch(name, state, toolchain, pki) for name in needed}
        try:
            for name in (ETCD, REDIS, PROMETHEUS, MLFLOW):
                if name in launches:
                    self._start(state, launches[name], log)
            if ETCD in launches:
                self._await(state, launches[ETCD])
            if APISERVER in launches:
                self._start(state, launches[APISERVER], log)
            for name in (APISERVER, REDIS, PROMETHEUS, MLFLOW):
                if name in launches:
                    self._await(state, launches[name])
                    log(f"  {name} ready")
            # The data plane serves models from MLflow and reads the API server: it goes last.
            if DATAPLANE in launches:
                self._start(state, launches[DATAPLANE], log)
                self._await(state, launches[DATAPLANE])
                log(f"  {DATAPLANE} ready")
        except BaseException:
            # A half-started platform is worse than none: stop what this call started.
            for name in launches:
                self._stop_component(state, name)
            self._save(state)
            raise
        return self._endpoints(state)

    def _healthy(self, state: PlatformState, name: str, deadline: float) -> bool:
        running = state.components.get(name)
        if running is None or not processes.is_running(running.pid, running.executable):
            return False
        answers = self._ready_check(name, state)
        while not answers():
            # One that holds its port but does not answer may be busy: it gets until the
            # deadline. One that does not even listen will not answer by waiting.
            if time.monotonic() > deadline or processes.is_free(state.ports.get(name, 0)):
                return False
            time.sleep(0.25)
        return True

    def _assign_ports(
        self, state: PlatformState, needed: list[str], apiserver_port: int | None
    ) -> None:
        wanted = {name: [name] for name in needed}
        if ETCD in wanted:
            wanted[ETCD] = [ETCD, f"{ETCD}-peer"]
        for roles in wanted.values():
            for role in roles:
                if role == APISERVER and apiserver_port is not None:
                    state.ports[role] = apiserver_port
                    continue
                stored = state.ports.get(role)
                state.ports[role] = (
                    stored
                    if stored is not None and processes.is_free(stored)
                    else processes.free_port()
                )

    def _start(self, state: PlatformState, launch: _Launch, log: Callable[[str], None]) -> None:
        log(f"starting {launch.name} on 127.0.0.1:{state.ports[launch.name]}")
        pid = processes.start(launch.argv, self.logs / f"{launch.name}.log", launch.env)
        state.components[launch.name] = ComponentState(pid=pid, executable=launch.executable)
        self._save(state)

    def _await(self, state: PlatformState, launch: _Launch) -> None:
        running = state.components[launch.name]
        processes.wait_until_ready(
            launch.name,
            running.pid,
            running.executable,
            launch.ready,
            _START_TIMEOUT_SECONDS[launch.name],
            self.logs / f"{launch.name}.log",
        )

    def _ready_check(self, name: str, state: PlatformState) -> Callable[[], bool]:
        port = state.ports.get(name, 0)
        ca_file = self.directory / "pki" / "ca.crt"
        ca = ssl.create_default_context(cafile=ca_file) if ca_file.is_file() else False
        checks: dict[str, Callable[[], bool]] = {
            ETCD: lambda: _http_ok(f"http://127.0.0.1:{port}/health", expect='"health":"true"'),
            APISERVER: lambda: _http_ok(f"https://127.0.0.1:{port}/readyz", verify=ca, expect="ok"),
            REDIS: lambda: _redis_pong(port),
            PROMETHEUS: lambda: _http_ok(f"http://127.0.0.1:{port}/-/ready"),
            MLFLOW: lambda: _http_ok(f"http://127.0.0.1:{port}/health"),
            DATAPLANE: lambda: _http_ok(f"http://127.0.0.1:{port}/healthz"),
        }
        return checks[name]

    def _launch(
        self, name: str, state: PlatformState, toolchain: Toolchain, pki: ClusterPki
    ) -> _Launch:
        ports = state.ports
        ready = self._ready_check(name, state)
        if name == ETCD:
            client, peer = (
                f"http://127.0.0.1:{ports[ETCD]}",
                f"http://127.0.0.1:{ports['etcd-peer']}",
            )
            return _Launch(
                ETCD,
                "etcd",
                [
                    str(toolchain.etcd),
                    "--name=default",
                    f"--data-dir={self.directory / 'etcd'}",
                    f"--listen-client-urls={client}",
                    f"--advertise-client-urls={client}",
                    f"--listen-peer-urls={peer}",
                    f"--initial-advertise-peer-urls={peer}",
                    f"--initial-cluster=default={peer}",
                    "--unsafe-no-fsync=true",
                    "--log-level=warn",
                ],
                ready,
            )
        if name == APISERVER:
            port = ports[APISERVER]
            return _Launch(
                APISERVER,
                "kube-apiserver",
                [
                    str(toolchain.kube_apiserver),
                    f"--etcd-servers=http://127.0.0.1:{ports[ETCD]}",
                    "--bind-address=127.0.0.1",
                    f"--secure-port={port}",
                    # Without it the API server looks for a default route's address and dies
                    # in a network namespace that has none.
                    "--advertise-address=127.0.0.1",
                    f"--tls-cert-file={pki.serving.certificate}",
                    f"--tls-private-key-file={pki.serving.key}",
                    f"--client-ca-file={pki.ca.certificate}",
                    "--authorization-mode=RBAC",
                    f"--service-account-issuer=https://127.0.0.1:{port}/",
                    f"--service-account-key-file={pki.service_account_public}",
                    f"--service-account-signing-key-file={pki.service_account_private}",
                    "--service-cluster-ip-range=10.0.0.0/24",
                    "--allow-privileged=true",
                    # No controller-manager creates the `default` ServiceAccount this plugin wants.
                    "--disable-admission-plugins=ServiceAccount",
                    # A loopback address in the `kubernetes` Endpoints fails validation: log noise.
                    "--endpoint-reconciler-type=none",
                ],
                ready,
            )
        if name == REDIS:
            data = self.directory / "redis"
            data.mkdir(parents=True, exist_ok=True)
            return _Launch(
                REDIS,
                "redis-server",
                [
                    _system_binary("redis-server"),
                    "--bind",
                    "127.0.0.1",
                    "--port",
                    str(ports[REDIS]),
                    "--dir",
                    str(data),
                    "--appendonly",
                    "yes",
                    "--save",
                    "",
                    "--daemonize",
                    "no",
                ],
                ready,
            )
        if name == PROMETHEUS:
            config = self._write_prometheus_config(ports[PROMETHEUS])
            return _Launch(
                PROMETHEUS,
                "prometheus",
                [
                    _system_binary("prometheus"),
                    f"--config.file={config}",
                    f"--storage.tsdb.path={self.directory / 'prometheus' / 'data'}",
                    f"--web.listen-address=127.0.0.1:{ports[PROMETHEUS]}",
                    "--web.enable-lifecycle",
                    "--log.level=warn",
                ],
                ready,
            )
        if name == MLFLOW:
            store = self.directory / "mlflow"
            (store / "artifacts").mkdir(parents=True, exist_ok=True)
            return _Launch(
                MLFLOW,
                "mlflow",
                [
                    sys.executable,
                    "-m",
                    "mlflow",
                    "server",
                    f"--backend-store-uri=sqlite:///{store / 'mlflow.db'}",
                    f"--artifacts-destination={store / 'artifacts'}",
                    "--host=127.0.0.1",
                    f"--port={ports[MLFLOW]}",
                    "--workers=1",
                ],
                ready,
                # MLflow 3's job runner (GenAI evaluation jobs) forks a dozen worker processes
                # paved never uses: a gigabyte and a core on a small machine.
                env={**QUIET_ENVIRONMENT, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
            )
        if name == DATAPLANE:
            # Prometheus scrapes the data plane as it would Seldon's executors on a cluster.
            targets = self.prometheus_targets_directory()
            targets.mkdir(parents=True, exist_ok=True)
            (targets / f"{DATAPLANE}.json").write_text(
                json.dumps([{"targets": [f"127.0.0.1:{ports[DATAPLANE]}"],
                             "labels": {"job": "seldon-executors"}}])
            )  # fmt: skip
            return _Launch(
                DATAPLANE,
                "paved_local.dataplane",
                [sys.executable, "-m", "paved_local.dataplane", f"--port={ports[DATAPLANE]}",
                 f"--kubeconfig={self.kubeconfig}"],
                ready,
                # One OpenMP thread per scoring call: with several threads, a one-row call
                # spends more time waking them than scoring (and fights training for cores).
                env={**QUIET_ENVIRONMENT, "OMP_NUM_THREADS": "1",
                     "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{ports[MLFLOW]}"},
            )  # fmt: skip
        raise ValueError(f"unknown component {name}")

    def prometheus_targets_directory(self) -> Path:
        """A `<name>.json` file-SD target list put here is scraped within seconds."""
        return self.directory / "prometheus" / "targets"

    def _write_prometheus_config(self, port: int) -> Path:
        root = self.directory / "prometheus"
        self.prometheus_targets_directory().mkdir(parents=True, exist_ok=True)
        config = {
            "global": {"scrape_interval": "2s", "evaluation_interval": "2s"},
            "scrape_configs": [
                {"job_name": "prometheus", "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]},
                {
                    "job_name": "paved",
                    "file_sd_configs": [
                        {
                            "files": [str(self.prometheus_targets_directory() / "*.json")],
                            "refresh_interval": "2s",
                        }
                    ],
                },
            ],
        }
        path = root / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def user_kubeconfig(self, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig for `user` in `groups` (a client certificate), for people and tests."""
        state = self._load()
        pki = ensure_pki(self.directory / "pki", dt.datetime.now(dt.UTC))
        pair = issue_client_certificate(
            pki, self.directory / "pki", user, groups, dt.datetime.now(dt.UTC)
        )
        path = self.directory / f"kubeconfig-{pair.certificate.stem.removeprefix('user-')}"
        self._write_kubeconfig(state, pki, path, user, pair)
        return path

    def _write_kubeconfig(
        self,
        state: PlatformState,
        pki: ClusterPki,
        path: Path | None = None,
        user: str = "paved-admin",
        credentials: KeyPair | None = None,
    ) -> None:
        def encoded(file: Path) -> str:
            return base64.b64encode(file.read_bytes()).decode()

        pair = credentials or pki.admin

        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "paved-local",
                    "cluster": {
                        "server": f"https://127.0.0.1:{state.ports[APISERVER]}",
                        "certificate-authority-data": encoded(pki.ca.certificate),
                    },
                }
            ],
            "users": [
                {
                    "name": user,
                    "user": {
                        "client-certificate-data": encoded(pair.certificate),
                        "client-key-data": encoded(pair.key),
                    },
                }
            ],
            "contexts": [
                {
                    "name": "paved-local",
                    "context": {"cluster": "paved-local", "user": user},
                }
            ],
            "current-context": "paved-local",
        }
        target = path or self.kubeconfig
        target.write_text(yaml.safe_dump(config, sort_keys=False))
        target.chmod(0o600)

    # -- down and status -------------------------------------------------------------------------

    def _stop_component(self, state: PlatformState, name: str) -> None:
        running = state.components.pop(name, None)
        if running is not None and processes.is_running(running.pid, running.executable):
            processes.stop(running.pid)

    def down(self, delete_data: bool = False) -> list[str]:
        """Stop every component (API server first); return the names that were running."""
        if not self.directory.is_dir():
            return []
        with self.exclusive():
            return self._down(delete_data)

    def _down(self, delete_data: bool) -> list[str]:
        state = self._load()
        stopped = []
        for name in reversed(COMPONENTS):
            running = state.components.get(name)
            if running is not None and processes.is_running(running.pid, running.executable):
                stopped.append(name)
            self._stop_component(state, name)
        if delete_data:
            shutil.rmtree(self.directory, ignore_errors=True)
        elif self.directory.is_dir():
            self._save(state)
        return stopped

    def status(self) -> Iterator[ComponentStatus]:
        state = self._load()
        for name in COMPONENTS:
            running = state.components.get(name)
            alive = running is not None and processes.is_running(running.pid, running.executable)
            port = state.ports.get(name)
            yield ComponentStatus(
                name=name,
                pid=running.pid if running else None,
                running=alive,
                ready=alive and self._ready_check(name, state)(),
                address=f"127.0.0.1:{port}" if port else "-",
            )


def _system_binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise PrerequisiteMissingError(
            f"`{name}` is not installed. Install the Debian package: "
            f"`sudo apt-get install {SYSTEM_PACKAGES[name]}` (or run `make setup`)."
        )
    return found


def check_system_prerequisites() -> None:
    """Name every missing system package at once, rather than one per attempt."""
    missing = [
        package for binary, package in SYSTEM_PACKAGES.items() if shutil.which(binary) is None
    ]
    if missing:
        raise PrerequisiteMissingError(
            f"missing system packages: {', '.join(missing)}. "
            f"Install them with `sudo apt-get install {' '.join(missing)}` (or run `make setup`)."
        )
