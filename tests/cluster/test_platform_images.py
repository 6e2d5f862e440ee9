"""The platform chart's services run from the images built here, as the chart runs them: each
container gets the chart's own arguments and environment, a read-only root filesystem and its
state on a volume, runs as uid 10001, and answers on its port."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from paved_local.toolchain import Toolchain
from tests.support.docker import Image, docker
from tests.support.helm import find, template
from tests.support.waiting import wait_for

# What each service answers, asked as the platform's clients and kubelet's probes ask.
ANSWERS = {
    "redis": ("PING", "+PONG"),
    "prometheus": ("/-/ready", 200),
    "mlflow": ("/health", 200),
    "objectstore": ("/paved/", 403),  # unsigned: the store refuses it
}
TEST_KEYS = {"AWS_ACCESS_KEY_ID": "paved-test", "AWS_SECRET_ACCESS_KEY": "not-a-secret"}


@pytest.fixture(scope="module")
def platform(toolchain: Toolchain) -> str:
    return template(toolchain, "paved-platform")


def _environment(container: dict[str, Any]) -> list[str]:
    """The container's variables as kubelet sets them: Secrets' keys (test keys here) and
    `$(NAME)` expanded from the variables before it."""
    known: dict[str, str] = {}
    for variable in container.get("env", []):
        value = variable.get("value", TEST_KEYS.get(variable["name"], ""))
        known[variable["name"]] = re.sub(r"\$\((\w+)\)", lambda m: known.get(m[1], m[0]), value)
    return [f"--env={name}={value}" for name, value in known.items()]


def _mounts(
    container: dict[str, Any], pod: dict[str, Any], platform: str, scratch: Path
) -> list[str]:
    """The container's volumes where the chart mounts them: /tmp a tmpfs, the state a Docker
    volume (named after the scratch directory), ConfigMaps as files."""
    sources = {volume["name"]: volume for volume in pod["volumes"]}
    mounts = []
    for mount in container["volumeMounts"]:
        source, at = sources[mount["name"]], mount["mountPath"]
        if "configMap" in source:
            directory = scratch / mount["name"]
            directory.mkdir(exist_ok=True)
            for key, text in find(platform, "ConfigMap", source["configMap"]["name"])[
                "data"
            ].items():
                (directory / key).write_text(text)
            mounts.append(f"--volume={directory}:{at}:ro")
        elif mount["name"] == "state":
            mounts.append(f"--mount=type=volume,source={scratch.name},destination={at}")
        else:
            mounts.append(f"--tmpfs={at}")
    return mounts


def _service_account(scratch: Path) -> list[str]:
    """A service account's files: Prometheus's Kubernetes discovery needs them to start (it
    never reaches an API server here)."""
    account = scratch / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("not-a-token")
    (account / "ca.crt").write_text("")
    return [
        f"--volume={account}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
        "--env=KUBERNETES_SERVICE_HOST=127.0.0.1",
        "--env=KUBERNETES_SERVICE_PORT=1",
    ]


@pytest.fixture(params=sorted(ANSWERS))
def service(
    request: pytest.FixtureRequest, images: dict[str, Image], platform: str, tmp_path: Path
) -> Iterator[tuple[str, str]]:
    name: str = request.param
    pod = find(platform, "Deployment", name)["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == images[name].tag  # the chart runs the image `make image` builds
    scratch = tmp_path / f"{name}-{uuid.uuid4().hex[:6]}"
    scratch.mkdir()
    common = ["--read-only", *_mounts(container, pod, platform, scratch)]
    if pod.get("serviceAccountName"):
        common += _service_account(scratch)
    for init in pod.get("initContainers", []):
        entry, *rest = init["command"]
        docker("run", "--rm", *common, f"--entrypoint={entry}", container["image"], *rest)
    port = container["ports"][0]["containerPort"]
    started = docker(
        "run",
        "--detach",
        *common,
        *_environment(container),
        "-p",
        f"127.0.0.1::{port}",
        container["image"],
        *container["args"],
    ).stdout.strip()
    published = docker("port", started, f"{port}/tcp").stdout.splitlines()[0]
    scheme = "redis" if name == "redis" else "http"
    yield name, f"{scheme}://127.0.0.1:{published.rsplit(':', 1)[1]}"
    docker("rm", "--force", started, check=False)
    docker("volume", "rm", "--force", scratch.name, check=False)


def _answer(url: str, path: str) -> int | str | None:
    try:
        if url.startswith("redis://"):
            host, port = url.removeprefix("redis://").split(":")
            with socket.create_connection((host, int(port)), timeout=2) as s:
                s.sendall(f"{path}\r\n".encode())
                return s.recv(64).decode().strip() or None
        return httpx.get(f"{url}{path}", headers={"Host": "localhost"}, timeout=2).status_code
    except (OSError, httpx.TransportError):
        return None


def test_each_service_starts_as_the_chart_runs_it_and_answers(service: tuple[str, str]) -> None:
    name, url = service
    path, expected = ANSWERS[name]

    # Until it is ready a service may answer otherwise (Prometheus's /-/ready: 503 while it
    # starts), as kubelet's readiness probe would see it: wait for the answer it gives when ready.
    seen: list[int | str | None] = []

    def ready() -> bool:
        seen.append(_answer(url, path))
        return seen[-1] == expected

    try:
        wait_for(ready, timeout=120, what=f"{name} to answer {expected!r}")
    except AssertionError as timed_out:
        raise AssertionError(f"{name} answered {seen[-3:]}, never {expected!r}") from timed_out


@pytest.mark.parametrize("name", ["redis", "prometheus", "mlflow", "objectstore"])
def test_each_platform_image_runs_as_non_root(images: dict[str, Image], name: str) -> None:
    uid = docker("run", "--rm", "--entrypoint=id", images[name].tag, "-u").stdout

    assert uid.strip() == "10001"
