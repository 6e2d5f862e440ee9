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
import os
import shutil
import ssl
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import yaml
from pydantic import BaseModel

from paved_local import argocd, object_store, processes
from paved_local.certs import ClusterPki, KeyPair, ensure_pki, issue_client_certificate
from paved_local.components import (
    APISERVER,
    COMPONENTS,
    DATAPLANE,
    ETCD,
    MLFLOW,
    OBJECT_STORE,
    PROMETHEUS,
    QUIET_ENVIRONMENT,
    REDIS,
    SYSTEM_PACKAGES,
    TABLE,
    Component,
    Site,
    prediction_log_root,
    prometheus_targets,
)
from paved_local.errors import ComponentFailedError, PrerequisiteMissingError
from paved_local.toolchain import ArgoCd, Toolchain, ensure_argocd, ensure_toolchain

# What the tests and the demo import from here, besides the platform itself.
__all__ = [
    "APISERVER",
    "COMPONENTS",
    "DATAPLANE",
    "ETCD",
    "MLFLOW",
    "OBJECT_STORE",
    "PROMETHEUS",
    "QUIET_ENVIRONMENT",
    "REDIS",
    "ComponentStatus",
    "Endpoints",
    "LocalPlatform",
    "PlatformState",
    "check_system_prerequisites",
    "default_directory",
]

# Running components that listen get this long, together, to answer before `up` judges them hung
# and restarts them: on a busy machine a healthy one can miss a 2-second probe, and restarting it
# breaks its clients.
ANSWER_GRACE_SECONDS: Final = 15.0


def paved_state() -> Path:
    """Where paved keeps the state of what it runs: `${XDG_STATE_HOME:-~/.local/state}/paved`."""
    xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "paved"


def default_directory() -> Path:
    explicit = os.environ.get("PAVED_LOCAL_DIR")
    if explicit:
        return Path(explicit)
    return paved_state() / "local"


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
    # The object store's endpoint and keys, as MLflow's clients and boto3 read them.
    storage: Mapping[str, str] = field(default_factory=dict)
    prediction_log: Path | None = None  # the data root the data plane logs predictions under
    # With Argo CD: where the git daemon serves `<directory>/git/<name>.git` (fetch and push).
    git: str | None = None

    def exports(self) -> dict[str, str]:
        """The environment a shell (or a test) needs to reach the platform."""
        return {
            "KUBECONFIG": str(self.kubeconfig),
            "MLFLOW_TRACKING_URI": self.mlflow,
            "PAVED_REDIS_URL": self.redis,
            "PAVED_PROMETHEUS_URL": self.prometheus,
            "PAVED_DATAPLANE_URL": self.dataplane,
            **self.storage,
            **QUIET_ENVIRONMENT,
        }


@dataclass(frozen=True)
class ComponentStatus:
    name: str
    pid: int | None
    running: bool
    ready: bool
    address: str


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
            storage=object_store.object_store(
                self.directory, f"http://127.0.0.1:{ports[OBJECT_STORE]}"
            ).environment(),
            prediction_log=prediction_log_root(self.directory),
            git=f"git://127.0.0.1:{ports[argocd.GIT_DAEMON]}"
            if argocd.GIT_DAEMON in ports
            else None,
        )

    # -- up --------------------------------------------------------------------------------------

    def up(
        self,
        apiserver_port: int | None = None,
        log: Callable[[str], None] = print,
        *,
        with_argocd: bool = False,
    ) -> Endpoints:
        """Start whatever is not running; leave alone what runs and answers. Argo CD's
        components are started with `with_argocd` only, and left alone without it."""
        check_system_prerequisites()
        toolchain = ensure_toolchain()
        built = ensure_argocd() if with_argocd else None
        self.directory.mkdir(parents=True, exist_ok=True)
        with self.exclusive():
            return self._up(toolchain, apiserver_port, log, built)

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
        self,
        toolchain: Toolchain,
        apiserver_port: int | None,
        log: Callable[[str], None],
        built: ArgoCd | None,
    ) -> Endpoints:
        state = self._load()
        state.toolchain_bin_dirs = [str(d) for d in toolchain.bin_dirs]
        pki = ensure_pki(self.directory / "pki", dt.datetime.now(dt.UTC))
        table = TABLE + (argocd.TABLE if built is not None else ())
        needed = self._needed(state, apiserver_port, table)
        for component in needed:
            self._stop_component(state, component.name)
        self._assign_ports(state, needed, apiserver_port)
        self._save(state)
        self._write_kubeconfig(state, pki)
        if not needed:
            log(f"local platform already up in {self.directory}")
            return self._endpoints(state)
        site = Site(
            directory=self.directory,
            ports=state.ports,
            toolchain=toolchain,
            pki=pki,
            kubeconfig=self.kubeconfig,
            argocd=built,
        )
        try:
            self._launch(state, site, needed, log)
        except BaseException:
            # A half-started platform is worse than none: stop what this call started.
            for component in needed:
                self._stop_component(state, component.name)
            self._save(state)
            raise
        return self._endpoints(state)

    def _needed(
        self,
        state: PlatformState,
        apiserver_port: int | None,
        table: tuple[Component, ...] = TABLE,
    ) -> list[Component]:
        """The components to (re)start, in the table's order: those that are not running and
        answering, those bound to one of them, and the API server when asked for another port."""
        needed: list[Component] = []
        deadline = time.monotonic() + ANSWER_GRACE_SECONDS
        for component in table:
            bound = any(c.name in component.restarts_with for c in needed)
            if bound or not self._healthy(state, component, deadline):
                needed.append(component)
        if apiserver_port is not None and state.ports.get(APISERVER) != apiserver_port:
            processes.require_free(apiserver_port, APISERVER)
            needed = [c for c in table if c in needed or c.name == APISERVER]
        return needed

    def _launch(
        self,
        state: PlatformState,
        site: Site,
        needed: list[Component],
        log: Callable[[str], None],
    ) -> None:
        """Start each component as soon as what it waits for is ready; wait for them in the
        table's order."""
        starting = {component.name for component in needed}
        waiting = list(needed)
        started: list[Component] = []  # started, not yet known to be ready
        ready: set[str] = set()
        while waiting or started:
            for component in list(waiting):
                if all(name in ready or name not in starting for name in component.after):
                    self._start(state, site, component, log)
                    waiting.remove(component)
                    started.append(component)
            if not started:
                names = ", ".join(c.name for c in waiting)
                raise ComponentFailedError(f"{names} wait for each other: fix the table")
            component = min(started, key=needed.index)  # needed is in the table's order
            started.remove(component)
            self._await(state, component)
            ready.add(component.name)
            log(f"  {component.name} ready")

    def _healthy(self, state: PlatformState, component: Component, deadline: float) -> bool:
        running = state.components.get(component.name)
        if running is None or not processes.is_running(running.pid, running.executable):
            return False
        answers = self._answers(state, component)
        while not answers():
            # One that holds its port but does not answer may be busy: it gets until the
            # deadline. One that does not even listen will not answer by waiting.
            if time.monotonic() > deadline or processes.is_free(state.ports.get(component.name, 0)):
                return False
            time.sleep(0.25)
        return True

    def _assign_ports(
        self, state: PlatformState, needed: list[Component], apiserver_port: int | None
    ) -> None:
        for component in needed:
            for role in (component.name, *component.extra_ports):
                if role == APISERVER and apiserver_port is not None:
                    state.ports[role] = apiserver_port
                    continue
                stored = state.ports.get(role)
                state.ports[role] = (
                    stored
                    if stored is not None and processes.is_free(stored)
                    else processes.free_port()
                )

    def _start(
        self, state: PlatformState, site: Site, component: Component, log: Callable[[str], None]
    ) -> None:
        name = component.name
        log(f"starting {name} on 127.0.0.1:{state.ports[name]}")
        launch = component.command(site)
        pid = processes.start(launch.argv, self.logs / f"{name}.log", launch.env)
        state.components[name] = ComponentState(pid=pid, executable=component.executable)
        self._save(state)

    def _await(self, state: PlatformState, component: Component) -> None:
        running = state.components[component.name]
        processes.wait_until_ready(
            component.name,
            running.pid,
            running.executable,
            self._answers(state, component),
            component.timeout_seconds,
            self.logs / f"{component.name}.log",
        )

    def _answers(self, state: PlatformState, component: Component) -> Callable[[], bool]:
        port = state.ports.get(component.name, 0)
        ca_file = self.directory / "pki" / "ca.crt"
        ca = ssl.create_default_context(cafile=ca_file) if ca_file.is_file() else False
        return lambda: component.ready(port, ca)

    def prometheus_targets_directory(self) -> Path:
        """A `<name>.json` file-SD target list put here is scraped within seconds."""
        return prometheus_targets(self.directory)

    def user_kubeconfig(self, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig for `user` in `groups` (a client certificate), for people and tests."""
        state = self._load()
        pki = ensure_pki(self.directory / "pki", dt.datetime.now(dt.UTC))
        pair = issue_client_certificate(
            pki.ca, self.directory / "pki", user, groups, dt.datetime.now(dt.UTC)
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
        for name in reversed(COMPONENTS + argocd.COMPONENTS):
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
        # Argo CD's components are shown while `up --with-argocd` has them started.
        table = TABLE + tuple(c for c in argocd.TABLE if c.name in state.components)
        for component in table:
            name = component.name
            running = state.components.get(name)
            alive = running is not None and processes.is_running(running.pid, running.executable)
            port = state.ports.get(name)
            yield ComponentStatus(
                name=name,
                pid=running.pid if running else None,
                running=alive,
                ready=alive and self._answers(state, component)(),
                address=f"127.0.0.1:{port}" if port else "-",
            )


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
