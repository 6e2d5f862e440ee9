"""GitOps on the local platform: a team's repository on the platform's git daemon, and the
Applications of deploy/argocd/ pointed at it, read back as Argo CD reports them."""

from __future__ import annotations

import datetime as dt
import functools
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml

from paved_local import argocd, components, processes
from paved_local.argocd import NAMESPACE, repositories
from paved_local.certs import ensure_pki
from paved_local.components import Site
from paved_local.toolchain import ensure_argocd, ensure_toolchain
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
APPLICATIONS = ROOT / "deploy" / "argocd" / "applications"
APPLICATION = "application.argoproj.io"
# What `argocd app get --refresh` and Git webhooks do: compare with Git now, not at the resync.
REFRESH = "argocd.argoproj.io/refresh=normal"
T = TypeVar("T")


@contextmanager
def argocd_on_host(directory: Path, kubeconfig: Path) -> Iterator[str]:
    """Argo CD's rows of the local platform (a Redis of its own, the git daemon, the repo
    server, the application controller) as processes on this host, whose in-cluster destination
    is the cluster of `kubeconfig` (a kind cluster's); the git daemon's URL. Stopped on exit."""
    rows = [c for c in components.TABLE if c.name == components.REDIS] + list(argocd.TABLE)
    ports = {role: processes.free_port() for c in rows for role in (c.name, *c.extra_ports)}
    site = Site(
        directory=directory,
        ports=ports,
        toolchain=ensure_toolchain(),
        pki=ensure_pki(directory / "pki", dt.datetime.now(dt.UTC)),
        kubeconfig=kubeconfig,
        argocd=ensure_argocd(),
    )
    started: list[int] = []
    try:
        for row in rows:
            launch, log = row.command(site), directory / "logs" / f"{row.name}.log"
            started.append(processes.start(launch.argv, log, launch.env))
            port = ports[row.name]
            ready = functools.partial(row.ready, port, False)
            processes.wait_until_ready(
                row.name, started[-1], row.executable, ready, row.timeout_seconds, log
            )
        yield argocd.repository_url(ports, "").rstrip("/")
    finally:
        for pid in reversed(started):
            processes.stop(pid)


def _git(*args: str, cwd: Path) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, f"git {' '.join(args)}: {done.stderr}"
    return done.stdout.strip()


@dataclass(frozen=True)
class Repository:
    """A bare repository the git daemon serves, and a clone a test commits in and pushes from."""

    url: str
    clone: Path

    @classmethod
    def create(cls, platform_directory: Path, served: str, name: str, work: Path) -> Repository:
        bare = repositories(platform_directory) / f"{name}.git"
        subprocess.run(["git", "init", "--quiet", "--bare", str(bare)], check=True, timeout=60)
        url = f"{served}/{name}.git"
        _git("init", "--quiet", "--initial-branch=main", str(work), cwd=work.parent)
        for key, value in (("user.name", "paved tests"), ("user.email", "tests@paved.invalid")):
            _git("config", key, value, cwd=work)
        _git("remote", "add", "origin", url, cwd=work)
        return cls(url, work)

    def commit(self, files: dict[str, str], message: str) -> str:
        """Write `files` (path → text), commit them and push through the daemon: the commit."""
        for path, text in files.items():
            target = self.clone / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        _git("add", "--all", cwd=self.clone)
        _git("commit", "--quiet", f"--message={message}", cwd=self.clone)
        _git("push", "--quiet", "origin", "HEAD:main", cwd=self.clone)
        return _git("rev-parse", "HEAD", cwd=self.clone)

    def copy_in(self, source: Path, path: str) -> None:
        """Put a directory of this checkout into the clone (committed by the next `commit`)."""
        shutil.copytree(source, self.clone / path, dirs_exist_ok=True)


def application(name: str, repository: str, suffix: str, **destination: str) -> dict[str, Any]:
    """deploy/argocd/applications/`name`.yaml as a team applies it: their repository's URL in
    `repoURL`, renamed `<name>-<suffix>` so that tests sharing a platform do not meet."""
    manifest: dict[str, Any] = yaml.safe_load((APPLICATIONS / f"{name}.yaml").read_text())
    manifest["metadata"]["name"] = f"{name}-{suffix}"
    manifest["spec"]["source"]["repoURL"] = repository
    manifest["spec"]["source"]["targetRevision"] = "main"
    manifest["spec"]["destination"].update(destination)
    return manifest


@dataclass(frozen=True)
class ArgoApplication:
    """One Application, as Argo CD reports it in its status."""

    kubectl: Kubectl
    name: str

    def status(self) -> dict[str, Any]:
        found: dict[str, Any] = self.kubectl.get_json(APPLICATION, self.name, "-n", NAMESPACE)
        return found.get("status") or {}

    def delete_leaving_resources(self) -> None:
        """`argocd app delete --cascade=false`: the Application goes, what it synced stays. The
        cascade (resources-finalizer) deletes in the foreground, which only Kubernetes' garbage
        collector completes, and the local platform runs none: the delete would never end."""
        finalizers = '{"metadata": {"finalizers": null}}'
        for verb in (["patch", "--type=merge", f"--patch={finalizers}"], ["delete"]):
            self.kubectl.run(*verb, APPLICATION, self.name, "-n", NAMESPACE)

    def refresh(self) -> None:
        self.kubectl.run(
            "annotate", "--overwrite", APPLICATION, self.name, REFRESH, "-n", NAMESPACE
        )

    def synced_at(self, revision: str) -> dict[str, Any] | None:
        """The status once Argo CD has synced `revision` and compares Synced against it."""
        status = self.status()
        sync = status.get("sync") or {}
        operation = status.get("operationState") or {}
        done = (
            operation.get("phase") == "Succeeded"
            and operation.get("syncResult", {}).get("revision") == revision
        )
        return (
            status
            if done and sync.get("status") == "Synced" and sync.get("revision") == revision
            else None
        )

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        """The Application's entry for one of its resources: its sync status and health."""
        for entry in self.status().get("resources") or []:
            if entry["kind"] == kind and entry["name"] == name:
                return dict(entry)
        raise AssertionError(f"{self.name} has no {kind} {name}: {self.status().get('resources')}")

    def wait(
        self, probe: Callable[[], T | None], timeout: float, what: str, *, interval: float = 0.2
    ) -> T:
        """`wait_for(probe)`; a failure (a timeout, or an assertion in `probe`) also says what
        Argo CD reports, so that it tells why the Application is not where the test expected."""
        try:
            return wait_for(probe, timeout=timeout, what=what, interval=interval)
        except AssertionError as failed:
            raise AssertionError(f"{failed}\n{self.explain()}") from failed

    def explain(self) -> str:
        """What Argo CD says of this Application: its sync and health, its conditions, the last
        sync operation and every resource not both Synced and Healthy."""
        status = self.status()
        operation = status.get("operationState") or {}
        unsettled = [
            f"{r['kind']}/{r['name']}: {r.get('status')}, {r.get('health')}"
            for r in status.get("resources") or []
            if r.get("status") != "Synced" or (r.get("health") or {}).get("status") != "Healthy"
        ]
        return "\n  ".join(
            [
                f"Application {self.name}: sync {status.get('sync')},"
                f" health {status.get('health')}",
                f"conditions: {status.get('conditions')}",
                f"operation {operation.get('phase')}: {operation.get('message')}"
                f" (sync {operation.get('operation', {}).get('sync')})",
                *unsettled,
            ]
        )
