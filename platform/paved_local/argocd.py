"""Argo CD on the embedded platform (`paved local up --with-argocd`): a git daemon serving
repositories on loopback, Argo CD's repo server and application controller built here, and the
objects they read in the `argocd` namespace (docs/decisions/0034-gitops-argo-cd-built-here.md).

The rows in `TABLE` join the platform's own table when asked for: the platform's Redis (on
database 1) is Argo CD's cache, and the in-cluster destination (https://kubernetes.default.svc)
is the local API server. `deploy/argocd/argocd-cm-patch.yaml` is what `argocd-cm` holds, so the
Lua health checks and diff rules Argo CD runs are the ones paved ships.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from typing import Final

import yaml

from paved_local.components import APISERVER, REDIS, Component, Launch, Site, _http
from paved_local.errors import ComponentFailedError, PrerequisiteMissingError

GIT_DAEMON: Final = "git-daemon"
REPO_SERVER: Final = "argocd-repo-server"
APPLICATION_CONTROLLER: Final = "argocd-application-controller"
NAMESPACE: Final = "argocd"
# Database 0 is paved's online store; Argo CD's caches stay out of its way.
REDIS_DATABASE: Final = 1
# How often the controller compares every Application with Git and the cluster. Argo CD's default
# is 120 s; on the local platform a commit shows within seconds.
RESYNC_SECONDS: Final = 10

REPOSITORY: Final = Path(__file__).resolve().parents[2]
CM_PATCH: Final = REPOSITORY / "deploy" / "argocd" / "argocd-cm-patch.yaml"
PART_OF: Final = {"app.kubernetes.io/part-of": "argocd"}


def repositories(directory: Path) -> Path:
    """The git daemon's base path: a bare repository `<name>.git` here is served as
    `git://127.0.0.1:<port>/<name>.git`, for fetch and push."""
    return directory / "git"


def repository_url(site_ports: dict[str, int], name: str) -> str:
    return f"git://127.0.0.1:{site_ports[GIT_DAEMON]}/{name}"


def _listens(port: int, _ca: ssl.SSLContext | bool) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2.0):
            return True
    except OSError:
        return False


def _git_daemon(site: Site) -> Launch:
    base = repositories(site.directory)
    base.mkdir(parents=True, exist_ok=True)
    git = shutil.which("git")
    if git is None:
        raise PrerequisiteMissingError("`git` is not installed: `sudo apt-get install git`.")
    # Push is on: on loopback, it is how a commit reaches the repository Argo CD syncs.
    argv = [git, "daemon", "--reuseaddr", "--export-all", "--enable=receive-pack"]
    argv += [f"--base-path={base}", "--listen=127.0.0.1", f"--port={site.ports[GIT_DAEMON]}"]
    return Launch([*argv, "--informative-errors"])


def _state(site: Site) -> Path:
    """Argo CD's files: what its images keep under /app/config and /tmp."""
    state = site.directory / "argocd"
    for sub in ("ssh", "tls", "gpg", "plugins", "tmp"):
        (state / sub).mkdir(parents=True, exist_ok=True)
    return state


def _environment(site: Site, binary_name: str) -> dict[str, str]:
    state = _state(site)
    return {
        "ARGOCD_BINARY_NAME": binary_name,
        "ARGOCD_SSH_DATA_PATH": str(state / "ssh"),
        "ARGOCD_TLS_DATA_PATH": str(state / "tls"),
        "ARGOCD_GNUPGHOME": str(state / "gpg"),
        "ARGOCD_GPG_ENABLED": "false",
        "ARGOCD_PLUGINSOCKFILEPATH": str(state / "plugins"),
        "TMPDIR": str(state / "tmp"),
        # The in-cluster destination is the cluster of KUBECONFIG, not a Pod's service account.
        "ARGOCD_FAKE_IN_CLUSTER": "true",
        "KUBECONFIG": str(site.kubeconfig),
    }


def _binary(site: Site) -> str:
    if site.argocd is None:
        raise ComponentFailedError("Argo CD was not built: `paved local up --with-argocd`")
    return str(site.argocd.binary)


def _redis_flags(site: Site) -> list[str]:
    return [f"--redis=127.0.0.1:{site.ports[REDIS]}", f"--redisdb={REDIS_DATABASE}"]


def _repo_server(site: Site) -> Launch:
    argv = [_binary(site), "--address=127.0.0.1", f"--port={site.ports[f'{REPO_SERVER}-grpc']}"]
    argv += ["--metrics-address=127.0.0.1", f"--metrics-port={site.ports[REPO_SERVER]}"]
    argv += ["--disable-tls", *_redis_flags(site), "--loglevel=info"]
    # It renders Helm sources (the paved-operator Application) with the `helm` on its PATH.
    helm = str(site.toolchain.helm.parent)
    env = {**_environment(site, REPO_SERVER), "PATH": f"{helm}:{os.environ.get('PATH', '')}"}
    return Launch(argv, env=env)


def _application_controller(site: Site) -> Launch:
    install(site)
    argv = [_binary(site), f"--kubeconfig={site.kubeconfig}", f"--namespace={NAMESPACE}"]
    argv += [f"--repo-server=127.0.0.1:{site.ports[f'{REPO_SERVER}-grpc']}"]
    argv += ["--repo-server-plaintext", *_redis_flags(site)]
    argv += [f"--metrics-port={site.ports[APPLICATION_CONTROLLER]}"]
    argv += [f"--app-resync={RESYNC_SECONDS}", "--loglevel=info"]
    # Argo CD 3 keeps resource health in Redis only, for its API server; without one here, the
    # Application's status carries it, where kubectl (and the tests) read it.
    argv += ["--persist-resource-health=true"]
    return Launch(argv, env=_environment(site, APPLICATION_CONTROLLER))


def install(site: Site) -> None:
    """What Argo CD's install manifests create and the controller reads: its namespace and CRDs,
    `argocd-cm` (paved's patch), `argocd-secret` and the `default` project."""
    assert site.argocd is not None
    kubectl = [str(site.toolchain.kubectl), f"--kubeconfig={site.kubeconfig}"]
    crds = [
        str(site.argocd.crds / name) for name in ("application-crd.yaml", "appproject-crd.yaml")
    ]
    _run([*kubectl, "apply", "--server-side", *(f"--filename={crd}" for crd in crds)])
    _wait_established(kubectl, ("crd/applications.argoproj.io", "crd/appprojects.argoproj.io"))
    _run([*kubectl, "apply", "--filename=-"], stdin=yaml.safe_dump_all(_objects()))


def _wait_established(kubectl: list[str], crds: tuple[str, ...]) -> None:
    """`kubectl wait` fails at once, rather than waits, on a CRD whose status the API server has
    not written yet (on a kind cluster, a moment after the apply): try again for a minute."""
    deadline = time.monotonic() + 60.0
    wait = [*kubectl, "wait", "--for=condition=Established", "--timeout=10s", *crds]
    while True:
        try:
            _run(wait)
            return
        except ComponentFailedError:
            if time.monotonic() > deadline:
                raise
        time.sleep(1.0)


def _objects() -> list[dict[str, object]]:
    if not CM_PATCH.is_file():
        raise PrerequisiteMissingError(
            f"{CM_PATCH} is missing: `--with-argocd` runs from a checkout of paved"
        )
    config_map = yaml.safe_load(CM_PATCH.read_text())
    config_map["metadata"]["labels"] = PART_OF
    meta = {"namespace": NAMESPACE, "labels": PART_OF}
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "argocd-secret", **meta},
        "stringData": {"server.secretkey": secrets.token_urlsafe(32)},
    }
    everywhere = {
        "sourceRepos": ["*"],
        "destinations": [{"server": "*", "namespace": "*"}],
        "clusterResourceWhitelist": [{"group": "*", "kind": "*"}],
    }
    project = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "AppProject",
        "metadata": {"name": "default", "namespace": NAMESPACE},
        "spec": everywhere,
    }
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    return [namespace, config_map, secret, project]


def _run(argv: list[str], stdin: str | None = None) -> None:
    done = subprocess.run(
        argv, input=stdin, capture_output=True, text=True, timeout=120, check=False
    )
    if done.returncode != 0:
        raise ComponentFailedError(f"installing Argo CD's objects: {done.stderr.strip()}")


TABLE: Final[tuple[Component, ...]] = (
    Component(GIT_DAEMON, "git", _git_daemon, ready=_listens, timeout_seconds=30.0),
    Component(
        REPO_SERVER,
        "argocd",
        _repo_server,
        ready=_http("/healthz"),
        timeout_seconds=120.0,
        after=(REDIS,),
        extra_ports=(f"{REPO_SERVER}-grpc",),
    ),
    # It reads its objects from the API server, which it installs first.
    Component(
        APPLICATION_CONTROLLER,
        "argocd",
        _application_controller,
        ready=_http("/healthz"),
        timeout_seconds=180.0,
        after=(APISERVER, REDIS, REPO_SERVER),
        restarts_with=(APISERVER,),  # its kubeconfig names the API server's port
    ),
)
COMPONENTS: Final = tuple(component.name for component in TABLE)
