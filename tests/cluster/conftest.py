"""The cluster tier: a Docker engine, and paved's images built once per session (`make image`'s
script: seconds when nothing changed)."""

from __future__ import annotations

import pytest

from tests.support.docker import Image, build_images, require_docker


@pytest.fixture(scope="session")
def images() -> dict[str, Image]:
    require_docker()
    return build_images()
