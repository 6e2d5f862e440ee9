"""What the images' recipes promise without building them: a model trained against uv.lock
loads in the model server, and the host's CA bundle only ever reaches a build as a secret."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

from paved_local.toolchain import cache_root

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = [ROOT / "operator" / "Dockerfile", *sorted((ROOT / "images").glob("*/Dockerfile"))]
# The libraries a saved model's pickle and MLmodel file are tied to.
# A team pipeline's LightGBM estimator is cloudpickled with the training environment's LightGBM.
SERIALIZERS = ["scikit-learn", "mlflow", "numpy", "scipy", "pandas", "cloudpickle", "lightgbm"]


def _pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"^([a-z0-9-]+)==(\S+)$", path.read_text(), re.M))


@pytest.mark.parametrize("library", SERIALIZERS)
def test_the_model_server_has_the_training_environments_version_of(library: str) -> None:
    locked = {
        p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    served = _pins(ROOT / "images" / "model-server" / "requirements.txt")

    assert served[library] == locked[library], (
        "recompile images/model-server/requirements.txt against uv.lock's versions"
    )


def test_the_mlflow_server_is_the_release_the_client_is() -> None:
    locked = {
        p["name"]: p["version"] for p in tomllib.loads((ROOT / "uv.lock").read_text())["package"]
    }
    served = _pins(ROOT / "images" / "mlflow" / "requirements.txt")

    assert served["mlflow"] == locked["mlflow"], "recompile images/mlflow/requirements.txt"


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda path: path.parent.name)
def test_the_ca_bundle_reaches_builds_only_as_a_secret(dockerfile: Path) -> None:
    lines = dockerfile.read_text().replace("\\\n", " ").splitlines()
    naming = [line for line in lines if "ca-certificates.crt" in line and not line.startswith("#")]
    downloads = any(re.search(r"/pip |/uv ", line) for line in lines if line.startswith("RUN "))

    assert bool(naming) == downloads  # an image that downloads nothing never names the bundle
    for line in naming:
        assert line.startswith(("RUN --mount=type=secret,id=ca,", "ENV ")), line


def test_the_data_plane_image_adds_exactly_what_paved_local_needs_beyond_paved() -> None:
    uv = shutil.which("uv") or str(next(Path(cache_root().parent).glob("uv-*/bin/uv"), "uv"))
    printed = subprocess.run(
        ["bash", ROOT / "images" / "dataplane" / "requirements.sh", uv],
        check=True,
        capture_output=True,
        text=True,
    ).stdout

    assert printed == (ROOT / "images" / "dataplane" / "requirements.txt").read_text(), (
        "make dataplane-requirements"
    )
