"""paved's images, built here from Debian's packages without pulling (`make image`): the
operator image holds the operator alone, runs as non-root, and carries no compiler and none
of the build's secrets; an unchanged second build takes seconds."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest

from tests.support.docker import Image, build_images, docker

HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(scope="module")
def operator(images: dict[str, Image]) -> str:
    return images["operator"].tag


def _run(image: str, *command: str) -> str:
    return docker("run", "--rm", "--entrypoint", command[0], image, *command[1:]).stdout


def test_the_operator_image_runs_as_non_root(operator: str) -> None:
    assert _run(operator, "id", "-u").strip() == "10001"


def test_paved_version_answers_in_the_operator_image(operator: str) -> None:
    assert docker("run", "--rm", operator, "--version").stdout.strip() == "paved, version 0.1.0"


def test_paved_local_is_not_a_command_in_the_operator_image(operator: str) -> None:
    refused = docker("run", "--rm", operator, "local", "--help", check=False)

    assert refused.returncode != 0
    assert "No such command 'local'" in refused.stderr


def test_the_operator_image_holds_no_platform_code_and_no_compiler(operator: str) -> None:
    found = _run(
        operator,
        "sh",
        "-c",
        "ls /opt/paved/lib/python3.11/site-packages; command -v gcc cc c++ clang || true",
    ).split()

    assert "paved" in found
    assert [name for name in found if name.startswith("paved_local")] == []
    assert [name for name in found if name.startswith("/")] == []  # no compiler on PATH


def test_the_build_secret_is_not_in_the_image(operator: str) -> None:
    # The host's CA bundle reached the build as a secret; the image keeps Debian's own.
    if not HOST_CA.is_file():
        pytest.skip(f"{HOST_CA} does not exist: the build had no CA bundle to pass")
    inside = _run(operator, "sha256sum", str(HOST_CA)).split()[0]
    host = hashlib.sha256(HOST_CA.read_bytes()).hexdigest()
    if inside == host:
        pytest.skip("the host's CA bundle is Debian's own: nothing tells them apart")
    assert inside != host


def test_a_second_build_with_nothing_changed_takes_seconds(
    images: dict[str, Image], capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    again = build_images()
    elapsed = time.monotonic() - started

    assert {name: image.tag for name, image in again.items()} == {
        name: image.tag for name, image in images.items()
    }
    assert elapsed < 30
    with capsys.disabled():
        for image in again.values():
            print(f"\n  image {image.name:<16} {image.tag:<48} {image.megabytes:>5} MB", end="")
        print(f"\n  second build: {elapsed:.1f} s")


@pytest.mark.parametrize(
    "role",
    [
        ["features", "serve", "--help"],
        ["features", "consume", "--help"],
    ],
    ids=["feature-server", "stream-consumer"],
)
def test_the_operator_image_also_runs_the_feature_server_and_the_stream_consumer(
    operator: str, role: list[str]
) -> None:
    assert docker("run", "--rm", operator, *role).stdout.startswith(f"Usage: paved {role[0]} ")


def test_the_operator_image_runs_the_training_pipelines_components(operator: str) -> None:
    # KFP runs each component in the image its decorator names: this one.
    named = _run(operator, "python", "-c", "import paved_pipelines.training as t; print(t.IMAGE)")

    assert named.strip() == operator
