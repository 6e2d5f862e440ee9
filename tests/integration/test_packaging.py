"""What the operator ships: its wheel holds the operator alone, and the SDK and the servers
load without the operator's handlers or kopf."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _uv() -> Path:
    cache = Path(os.environ.get("PAVED_CACHE_DIR", Path.home() / ".cache" / "paved"))
    found = sorted(cache.glob("uv-*/bin/uv"))
    if not found:
        pytest.fail(f"uv is not in {cache}: run `make python` first")
    return found[-1]


def test_the_operator_wheel_has_no_platform_data_plane_or_demo(tmp_path: Path) -> None:
    subprocess.run(
        [_uv(), "build", "--wheel", "--package", "paved", "--out-dir", tmp_path],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("paved-*.whl")
    files = zipfile.ZipFile(wheel).namelist()
    assert "paved/controllers/rollout.py" in files
    assert "paved/features.py" in files
    platform = [
        name
        for name in files
        if name.startswith("paved_local/")
        or any(part in name.split("/") for part in ("local", "demo", "dataplane"))
    ]
    assert platform == []


@pytest.mark.parametrize(
    "module",
    ["paved.features", "paved.feature_server", "paved.streaming", "paved_local.dataplane.server"],
)
def test_the_sdk_and_the_servers_load_without_the_operator(module: str) -> None:
    # Before, `paved.features` imported the composition root: every feature server registered
    # the operator's handlers with kopf as a side effect of its imports.
    probe = (
        f"import sys, {module}; "
        "operator = ('kopf', 'paved.controllers', 'paved.wiring'); "
        "print(sorted(m for m in operator if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    assert loaded.strip() == "[]"
