"""The compiled pipeline (the IR a KFP installation runs) gives each task Pod what it reads, and
only that: MLflow and the object store's credentials where a task logs, the data volume where a
task reads sources and labels, at the operator's data root. `make pipelines` writes it; the
integration tier recompiles and diffs."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from paved.settings import TASK_DATA_ROOT
from paved_pipelines.compile import compiled_path
from paved_pipelines.training import TRAINING_CONFIG, TRAINING_CREDENTIALS, TRAINING_DATA


@pytest.fixture(scope="module")
def executors() -> dict[str, Any]:
    """Each task's Kubernetes executor config, from the IR's platform spec."""
    documents = list(yaml.safe_load_all(compiled_path().read_text()))
    (platform,) = (d for d in documents if "platforms" in d)
    found: dict[str, Any] = platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    return found


def _env(config: dict[str, Any], section: str) -> dict[str, tuple[str, bool]]:
    """Environment variable → (the ConfigMap or Secret it comes from, optional)."""
    name = "configMapName" if section == "configMapAsEnv" else "secretName"
    return {
        pair["envVar"]: (source[name], source["optional"])
        for source in config.get(section, [])
        for pair in source["keyToEnv"]
    }


def test_the_task_that_logs_reads_mlflow_and_the_object_store_from_the_cluster(
    executors: dict[str, Any],
) -> None:
    logs = executors["exec-evaluate-and-log"]
    assert _env(logs, "configMapAsEnv") == {
        "MLFLOW_TRACKING_URI": (TRAINING_CONFIG, False),  # a run that cannot log never starts
        "MLFLOW_S3_ENDPOINT_URL": (TRAINING_CONFIG, True),
    }
    assert _env(logs, "secretAsEnv") == {
        "AWS_ACCESS_KEY_ID": (TRAINING_CREDENTIALS, True),
        "AWS_SECRET_ACCESS_KEY": (TRAINING_CREDENTIALS, True),
    }


def test_the_task_that_reads_the_data_mounts_its_volume_at_the_operators_data_root(
    executors: dict[str, Any],
) -> None:
    (mount,) = executors["exec-prepare"]["pvcMount"]
    assert mount["mountPath"] == TASK_DATA_ROOT
    assert mount["pvcNameParameter"]["runtimeValue"]["constant"] == TRAINING_DATA


def test_no_task_gets_what_it_does_not_read(executors: dict[str, Any]) -> None:
    assert "exec-train" not in executors  # it reads only the training set prepare wrote
    assert "pvcMount" not in executors["exec-evaluate-and-log"]
    assert not _env(executors["exec-prepare"], "secretAsEnv")
