"""A real Kubernetes cluster on this machine: kind, on a node image built here (images/node).

`paved cluster up` builds (or finds in the cache) the node image, creates the kind cluster from
the repository's `kind-config.yaml`, waits until its nodes are Ready and cluster DNS answers, and
loads paved's images into it. Its state (kubeconfig, the node image's tag) lives under
`~/.local/state/paved/cluster/<name>`; the binaries are cached by version beside the embedded
platform's toolchain.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import yaml

from paved_local.certs import KeyPair, issue_client_certificate
from paved_local.errors import ComponentFailedError, PrerequisiteMissingError
from paved_local.platform import paved_state
from paved_local.toolchain import KUBERNETES_VERSION, cache_root, ensure_toolchain

REPOSITORY: Final = Path(__file__).resolve().parents[2]
NODE_DIR: Final = REPOSITORY / "images" / "node"
DEFAULT_NAME: Final = "paved"
# Long enough for the first boot on a loaded 2-core machine; a warm one takes about a minute.
_READY_TIMEOUT: Final = "300s"

Log = Callable[[str], None]


def node_versions(path: Path = NODE_DIR / "versions.env") -> dict[str, str]:
    """The pinned versions a node is built from (`NAME=value  # why` lines)."""
    pairs = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "=" in line:
            name, value = line.split("=", 1)
            pairs[name.strip()] = value.strip()
    return pairs


@dataclass(frozen=True)
class ClusterNode:
    name: str
    ready: bool
    version: str


@dataclass(frozen=True)
class KindCluster:
    """One kind cluster named `name`, its state under `directory`."""

    name: str = DEFAULT_NAME
    config: Path = REPOSITORY / "kind-config.yaml"
    directory: Path | None = None

    @property
    def state(self) -> Path:
        return self.directory or paved_state() / "cluster" / self.name

    @property
    def kubeconfig(self) -> Path:
        return self.state / "kubeconfig"

    @property
    def kind(self) -> Path:
        version = node_versions()["KIND_VERSION"]
        return cache_root() / f"kind-{version}" / "bin" / "kind"

    def bin_dirs(self) -> list[Path]:
        """kind, kubectl and helm, for PATH."""
        return sorted({self.kind.parent, *ensure_toolchain().bin_dirs})

    def exports(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig), "PAVED_CLUSTER": self.name}

    def up(self, *, images: Sequence[str] = (), log: Log) -> None:
        """Create the cluster unless it exists, wait until it can run Pods, load `images`."""
        require_docker()
        self.state.mkdir(parents=True, exist_ok=True)
        log("building (or finding) the node image: the first build takes a while")
        node_image = build_node_image()
        (self.state / "node-image").write_text(node_image + "\n")
        if self.exists():
            log(f"cluster {self.name} exists: reusing it")
            self._kind("export", "kubeconfig", "--kubeconfig", str(self.kubeconfig))
        else:
            log(f"creating kind cluster {self.name} on {node_image}")
            self._kind(*_create_args(node_image, self.config, self.kubeconfig))
        self.wait_ready(log)
        if images:
            log(f"loading {len(images)} image(s) into the nodes")
            self.load(images)

    def wait_ready(self, log: Log) -> None:
        """Every node Ready and CoreDNS serving: Pods can run and Services resolve."""
        log("waiting for the nodes and cluster DNS")
        self.kubectl(
            "wait", "--for=condition=Ready", "nodes", "--all", f"--timeout={_READY_TIMEOUT}"
        )
        dns = ("-n", "kube-system", "rollout", "status", "deployment/coredns")
        self.kubectl(*dns, f"--timeout={_READY_TIMEOUT}")

    def down(self) -> bool:
        """Delete the cluster; False when there was none."""
        if not self.kind.is_file() or not self.exists():
            return False
        self._kind("delete", "cluster")
        self.kubeconfig.unlink(missing_ok=True)
        return True

    def exists(self) -> bool:
        if not self.kind.is_file():
            return False
        listed = _run([str(self.kind), "get", "clusters"], True, None)
        return self.name in listed.split()

    def nodes(self) -> list[ClusterNode]:
        listed = json.loads(self.kubectl("get", "nodes", "-o", "json", capture=True))
        return [_node(item) for item in listed["items"]]

    def kubectl(
        self, *args: str, capture: bool = False, stdin: str | None = None, check: bool = True
    ) -> str:
        kubectl = [str(ensure_toolchain().kubectl), "--kubeconfig", str(self.kubeconfig)]
        return _run([*kubectl, *args], capture, stdin, check=check)

    def user_kubeconfig(self, user: str, groups: tuple[str, ...] = ()) -> Path:
        """A kubeconfig for `user` in `groups`: a client certificate signed by the cluster's CA
        (kubeadm's, read from the control-plane node), the admin kubeconfig's server."""
        pki = self.state / "pki"
        pki.mkdir(parents=True, exist_ok=True)
        node = f"{self.name}-control-plane"
        for part in ("crt", "key"):
            _run(["docker", "cp", f"{node}:/etc/kubernetes/pki/ca.{part}", str(pki)], True, None)
        ca = KeyPair(certificate=pki / "ca.crt", key=pki / "ca.key")
        pair = issue_client_certificate(ca, pki, user, groups, dt.datetime.now(dt.UTC))
        config = yaml.safe_load(self.kubeconfig.read_text())
        credentials = {
            "client-certificate-data": base64.b64encode(pair.certificate.read_bytes()).decode(),
            "client-key-data": base64.b64encode(pair.key.read_bytes()).decode(),
        }
        config["users"] = [{"name": user, "user": credentials}]
        context = config["contexts"][0]
        context["context"]["user"] = user
        path = self.state / f"kubeconfig-{pair.certificate.stem.removeprefix('user-')}"
        path.write_text(yaml.safe_dump({**config, "contexts": [context]}))
        path.chmod(0o600)
        return path

    @contextmanager
    def port_forward(self, namespace: str, target: str, port: int) -> Iterator[str]:
        """`kubectl port-forward` to `target`'s `port` (`service/dataplane`, `pod/…`) for the
        length of the `with`: the local `127.0.0.1:<port>` it listens on."""
        kubectl = [str(ensure_toolchain().kubectl), "--kubeconfig", str(self.kubeconfig)]
        forwarded = ("-n", namespace, "port-forward", target, f":{port}")
        with tempfile.TemporaryFile("w+") as errors:
            forward = subprocess.Popen(
                [*kubectl, *forwarded], stdout=subprocess.PIPE, stderr=errors, text=True
            )
            assert forward.stdout is not None
            # It prints a line a connection: drained, so a long forward never blocks.
            drain = threading.Thread(target=forward.stdout.readlines, daemon=True)
            try:
                local = re.search(r"127\.0\.0\.1:(\d+)", forward.stdout.readline())
                if local is None:
                    forward.wait(timeout=10)
                    errors.seek(0)
                    said = errors.read().strip()
                    raise ComponentFailedError(f"port-forward to {target}:{port}: {said}")
                drain.start()
                yield f"127.0.0.1:{local[1]}"
            finally:
                forward.terminate()
                forward.wait(timeout=10)
                if drain.is_alive():
                    drain.join(timeout=10)
                forward.stdout.close()

    def load(self, images: Sequence[str]) -> None:
        """Load local Docker images into the nodes Pods run on (kind skips what a node holds).

        Only the workers when there are any: the control plane keeps kubeadm's NoSchedule taint
        then, and an image costs a node its size twice (content and snapshot). One image at a
        time, so kind's temporary archive on the host is one image's size, not all of them."""
        nodes = self._kind("get", "nodes", capture=True).split()
        workers = [node for node in nodes if not node.endswith("-control-plane")]
        for image in images:
            self._kind("load", "docker-image", "--nodes", ",".join(workers or nodes), image)

    def run(self, *command: str) -> str:
        """Run a command (helm, …) and return what it printed; its stderr in the error."""
        return _run(list(command), True, None)

    def _kind(self, *args: str, capture: bool = False) -> str:
        return _run([str(self.kind), *args, "--name", self.name], capture, None)


def _create_args(node_image: str, config: Path, kubeconfig: Path) -> list[str]:
    return [
        *("create", "cluster", "--image", node_image, "--config", str(config)),
        *("--kubeconfig", str(kubeconfig), "--wait", _READY_TIMEOUT),
    ]


def _node(item: Mapping[str, Any]) -> ClusterNode:
    metadata, status = item["metadata"], item.get("status", {})
    ready = any(
        c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions", [])
    )
    return ClusterNode(
        metadata["name"], ready, status.get("nodeInfo", {}).get("kubeletVersion", "")
    )


def code_commit() -> str:
    """The checkout's commit (the operator's lineage names it), or "unknown" outside git."""
    try:
        found = subprocess.run(
            ["git", "-C", str(REPOSITORY), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


def require_docker() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        raise PrerequisiteMissingError(
            "no Docker engine answers, and kind runs the cluster's nodes as containers: "
            "run `make setup` (it installs Debian's docker.io and starts dockerd)."
        )


def build_node_image() -> str:
    """The node image's tag (images/node/build.sh: cached by the hash of its inputs)."""
    script = NODE_DIR / "build.sh"
    if not script.is_file():
        raise PrerequisiteMissingError(
            f"{script} is missing: `paved cluster` builds its node image from a checkout of paved."
        )
    ensure_toolchain()
    versions = node_versions()
    if versions["KUBERNETES_VERSION"] != KUBERNETES_VERSION:
        raise ComponentFailedError(
            f"images/node/versions.env names Kubernetes {versions['KUBERNETES_VERSION']}, the "
            f"embedded platform {KUBERNETES_VERSION}: they must be one release."
        )
    return _run(["bash", str(script)], True, None).strip().splitlines()[-1]


def build_paved_images() -> list[str]:
    """`make image`'s images (images/build.sh: cached), by tag."""
    printed = _run(["bash", str(REPOSITORY / "images" / "build.sh")], True, None)
    return image_tags(printed)


def image_tags(printed: str) -> list[str]:
    """The tags images/build.sh prints, one row an image: `name tag size MB time`."""
    return [row.split()[1] for row in printed.splitlines() if len(row.split()) >= 2]


def _run(command: list[str], capture: bool, stdin: str | None, *, check: bool = True) -> str:
    done = subprocess.run(command, input=stdin, text=True, capture_output=capture, check=False)
    if check and done.returncode != 0:
        said = (done.stderr or "").strip()[-2000:] if capture else "(see the output above)"
        raise ComponentFailedError(f"`{' '.join(command[:4])} …` failed: {said}")
    return done.stdout or ""
