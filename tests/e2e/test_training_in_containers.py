"""With PAVED_PIPELINE_RUNNER=kfp-docker, a ModelVersion is trained by the real pipeline whose
every task is a container of the training image (KFP's DockerRunner), on the local platform:
the tasks read the data through a read-only mount and log to the platform's MLflow, and the
version is registered and staged as with tasks as processes. One training run (slow: three
containers of a 1 GB image)."""

from __future__ import annotations

import copy
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml
from mlflow.tracking import MlflowClient

from paved.adapters.pipelines.kfp_docker import DockerTasks
from paved.adapters.registry.mlflow import KEY_TAG
from paved.core.model_versions import registered_model_name
from paved.ports.pipelines import PipelinesUnavailableError
from paved_local.platform import Endpoints
from paved_pipelines.training import IMAGE
from tests.support.churn_data import write_churn_data
from tests.support.conditions import wait_for_condition
from tests.support.docker import ROOT, docker, require_docker
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.training import example

MV = "modelversion.paved.dev"
TASKS = ("prepare", "train", "evaluate-and-log")


@pytest.fixture(scope="module")
def training_image() -> str:
    """The operator's image, which carries paved_pipelines, built here (cached: seconds when
    nothing changed)."""
    require_docker()
    built = subprocess.run(
        ["bash", str(ROOT / "images" / "build.sh"), "operator"],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return IMAGE


@pytest.fixture
def docker_operator(
    training_image: str,
    endpoints: Endpoints,
    operator_kubeconfig: Path,
    kubectl: Kubectl,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RunningOperator, str]]:
    """An operator of its own, on a namespace of its own (the session's operator watches the
    tests' t-* namespaces: two operators must never reconcile one object)."""
    namespace = f"d-{uuid.uuid4().hex[:10]}"
    kubectl.run("create", "namespace", namespace)
    running = RunningOperator(
        endpoints,
        tmp_path_factory.mktemp("docker-operator"),
        operator_kubeconfig,
        namespaces=(namespace,),
        environment={"PAVED_PIPELINE_RUNNER": "kfp-docker"},
    )
    try:
        running.start()
        yield running, namespace
    finally:
        running.stop()
        running.stop_training_runs()


def _model_version() -> dict[str, Any]:
    manifest = copy.deepcopy(example("02-modelversion.yaml"))
    manifest["spec"]["gates"]["metric"]["minValue"] = 0.6
    manifest["spec"]["gates"]["slices"] = []
    manifest["spec"]["labels"]["path"] = "churn_labels.parquet"  # under <data root>/<namespace>/
    return manifest


def test_a_model_version_is_trained_in_containers_of_the_training_image(
    docker_operator: tuple[RunningOperator, str], kubectl: Kubectl, endpoints: Endpoints
) -> None:
    operator, namespace = docker_operator
    write_churn_data(operator.data_root / namespace)
    view = example("01-featureview.yaml")
    view["spec"]["source"]["path"] = "activity/*.parquet"
    view["spec"]["materialization"]["enabled"] = False
    kubectl.apply(yaml.safe_dump(view), "-n", namespace)
    manifest = _model_version()
    kubectl.apply(yaml.safe_dump(manifest), "-n", namespace)

    name = manifest["metadata"]["name"]
    staged = wait_for_condition(kubectl, MV, name, namespace, "GatesPassed", "True", timeout=600)

    status = staged["status"]
    assert (status["phase"], status["stage"]) == ("Staging", "Staging")
    run = operator.state_dir / "runs" / status["run"]["id"]
    log = (run / "run.log").read_text()
    # KFP's DockerRunner names the image of each task it runs as a container; its
    # SubprocessRunner names none.
    assert log.count(f"Found image {IMAGE!r}") == len(TASKS), log[-2000:]
    # The run logged to the platform's MLflow from inside the containers.
    registered = registered_model_name(namespace, manifest["spec"]["model"])
    (version,) = MlflowClient(endpoints.mlflow).search_model_versions(f"name = '{registered}'")
    assert version.tags[KEY_TAG] == status["run"]["key"]
    assert version.version == status["registry"]["version"]


def test_an_image_the_engine_does_not_hold_is_named_and_never_pulled() -> None:
    require_docker()
    tasks = replace(DockerTasks.for_training("/data", "http://mlflow"), image="paved-absent:0")
    with pytest.raises(PipelinesUnavailableError, match="the training image paved-absent:0 is"):
        tasks.check_engine()
    assert docker("image", "inspect", "paved-absent:0", check=False).returncode != 0
