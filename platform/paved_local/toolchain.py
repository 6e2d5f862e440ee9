"""The Go-built binaries of the local control plane, cached by version outside the repository.

kube-apiserver, kubectl, etcd, helm and rclone (the object store) come from the Go module proxy
(no registry ships a recent kube-apiserver); the first build takes a long while, every later one
finds the cache.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypeVar

from paved_local.errors import PrerequisiteMissingError

KUBERNETES_VERSION: Final = "v1.36.3"
HELM_VERSION: Final = "v3.22.0"
# The same release, in the same cache directory, as the kind node's (images/node/versions.env).
RCLONE_VERSION: Final = "v1.76.0"
# Argo CD's application controller and repo server (`paved local up --with-argocd`), ADR
# docs/decisions/0034-gitops-argo-cd-built-here.md.
# The newest release this Go builds: v3.6 needs Go 1.27, v3.3 to v3.5 a gitops-engine the module
# proxy does not serve.
ARGOCD_VERSION: Final = "v3.2.11"
ARGOCD_MINIMUM_GO: Final = (1, 25)
MINIMUM_GO: Final = (1, 26)
_BUILD_SCRIPT: Final = Path(__file__).with_name("build-toolchain.sh")
_BUILD_ARGOCD: Final = Path(__file__).with_name("build-argocd.sh")
B = TypeVar("B")  # what a build leaves in the cache


def cache_root() -> Path:
    """Where built binaries live; kept across clones and sessions, never in git."""
    explicit = os.environ.get("PAVED_CACHE_DIR")
    if explicit:
        return Path(explicit) / "toolchain"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "paved" / "toolchain"


@dataclass(frozen=True)
class Toolchain:
    kube_apiserver: Path
    kubectl: Path
    etcd: Path
    helm: Path
    rclone: Path

    @property
    def bin_dirs(self) -> list[Path]:
        return sorted({Path(p).parent for p in vars(self).values()})


def _expected(cache: Path) -> Toolchain | None:
    k8s = cache / f"kubernetes-{KUBERNETES_VERSION}"
    etcd_version_file = k8s / "etcd-version"
    if not etcd_version_file.is_file():
        return None
    etcd_version = etcd_version_file.read_text().strip()
    toolchain = Toolchain(
        kube_apiserver=k8s / "bin" / "kube-apiserver",
        kubectl=k8s / "bin" / "kubectl",
        etcd=cache / f"etcd-{etcd_version}" / "bin" / "etcd",
        helm=cache / f"helm-{HELM_VERSION}" / "bin" / "helm",
        rclone=cache / f"rclone-{RCLONE_VERSION}" / "bin" / "rclone",
    )
    built = all(os.access(p, os.X_OK) for p in vars(toolchain).values())
    return toolchain if built else None


def check_go(
    minimum: tuple[int, int] = MINIMUM_GO, building: str = f"Kubernetes {KUBERNETES_VERSION}"
) -> str:
    """Return the path of a Go toolchain new enough to build `building`, or say what to install."""
    go = shutil.which("go")
    if go is None:
        raise PrerequisiteMissingError(
            "Go is not installed, and the local control plane is built from Go modules. "
            f"Install Go {minimum[0]}.{minimum[1]} or newer and put `go` on PATH, "
            "then run `paved local up` again."
        )
    printed = subprocess.run([go, "version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"go(\d+)\.(\d+)", printed)
    if match is None or (int(match[1]), int(match[2])) < minimum:
        raise PrerequisiteMissingError(
            f"{printed.strip()} is too old to build {building}: "
            f"install Go {minimum[0]}.{minimum[1]} or newer."
        )
    return go


def ensure_toolchain(cache: Path | None = None) -> Toolchain:
    """Build whatever binary is missing (once, even when several callers race) and return them."""
    cache = cache or cache_root()
    versions = [KUBERNETES_VERSION, HELM_VERSION, RCLONE_VERSION]
    argv = ["bash", str(_BUILD_SCRIPT), str(cache), *versions]
    return _built_once(cache, ".build.lock", _expected, argv, what="toolchain")


def _built_once(
    cache: Path,
    lock_name: str,
    expected: Callable[[Path], B | None],
    argv: list[str],
    *,
    what: str,
) -> B:
    """What `expected` finds in `cache`, after running the build `argv` when it finds nothing:
    one build at a time across processes, and none when a racing caller has just built it."""
    found = expected(cache)
    if found is not None:
        return found
    check_go()
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / lock_name).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if expected(cache) is None:
            subprocess.run(argv, check=True)
    built = expected(cache)
    if built is None:
        raise PrerequisiteMissingError(
            f"the {what} build finished but left binaries missing in {cache}"
        )
    return built


@dataclass(frozen=True)
class ArgoCd:
    """Argo CD built here: one binary (the application controller or the repo server, by
    ARGOCD_BINARY_NAME) and the module's Application and AppProject CRDs."""

    binary: Path
    crds: Path


def _argocd_expected(cache: Path) -> ArgoCd | None:
    home = cache / f"argo-cd-{ARGOCD_VERSION}"
    argocd = ArgoCd(binary=home / "bin" / "argocd", crds=home / "crds")
    built = os.access(argocd.binary, os.X_OK) and (argocd.crds / "application-crd.yaml").is_file()
    return argocd if built else None


def ensure_argocd(cache: Path | None = None) -> ArgoCd:
    """Build Argo CD once (long on two cores; every later call finds the cache)."""
    cache = cache or cache_root()
    if _argocd_expected(cache) is None:
        # Its go line is a floor (v3.6's code uses Go 1.27's struct literals that set an
        # embedded struct's fields directly): say so before a long build fails.
        check_go(ARGOCD_MINIMUM_GO, f"Argo CD {ARGOCD_VERSION}")
    argv = ["bash", str(_BUILD_ARGOCD), str(cache), ARGOCD_VERSION]
    return _built_once(cache, ".build-argocd.lock", _argocd_expected, argv, what="Argo CD")
