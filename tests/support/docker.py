"""The Docker engine the cluster tier runs on, and paved's images built on it."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATE = Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "paved"


def docker(
    *args: str, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", *args], check=check, capture_output=True, text=True, timeout=timeout
    )


def require_docker() -> None:
    """Skips only where no Docker engine can run; fails where one should and does not."""
    if shutil.which("docker") and docker("info", check=False).returncode == 0:
        return
    if shutil.which("dockerd") or Path("/usr/sbin/dockerd").exists():
        pytest.fail(
            "dockerd is installed but no Docker daemon answers: run `make setup` "
            f"(paved's dockerd logs to {STATE / 'docker' / 'dockerd.log'})"
        )
    pytest.skip("no Docker engine on this machine: `make setup` installs one where it has root")


def base_image(name: str, packages: Sequence[str]) -> str:
    """A base image from Debian's packages (images/base.sh): built once, then its tag."""
    built = subprocess.run(
        ["bash", ROOT / "images" / "base.sh", name, ",".join(packages)],
        check=True,
        capture_output=True,
        text=True,
        timeout=900,
    )
    return built.stdout.strip()


@dataclass(frozen=True)
class Image:
    name: str
    tag: str
    megabytes: int


def build_images() -> dict[str, Image]:
    """`make image`'s script: the images, built or found in the cache, by name."""
    built = subprocess.run(
        ["bash", ROOT / "images" / "build.sh"],
        check=True,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    rows = [line.split() for line in built.stdout.splitlines() if line.strip()]
    return {row[0]: Image(name=row[0], tag=row[1], megabytes=int(row[2])) for row in rows}
