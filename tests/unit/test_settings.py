"""The operator's settings refuse a pipeline runner whose tasks would read the operator's own
filesystem or run beside its Pod: with a cluster runner, training runs in the cluster."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paved.settings import TASK_DATA_ROOT, OperatorSettings, RunnerName


def test_kfp_api_needs_the_data_root_its_task_pods_mount() -> None:
    with pytest.raises(ValidationError, match=r"PAVED_DATA_ROOT must be /data, not '/srv/data'"):
        OperatorSettings(pipeline_runner=RunnerName.KFP_API, data_root="/srv/data")
    settings = OperatorSettings(pipeline_runner=RunnerName.KFP_API, data_root=TASK_DATA_ROOT)
    assert settings.pipeline_runner is RunnerName.KFP_API


def test_training_containers_are_refused_to_an_operator_in_a_pod(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    with pytest.raises(ValidationError, match=r"the operator runs in a Pod.*In a cluster, set"):
        OperatorSettings(pipeline_runner=RunnerName.KFP_DOCKER)
    assert OperatorSettings(pipeline_runner=RunnerName.KFP_API, data_root="/data").in_pod


def test_outside_a_pod_every_runner_is_a_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.setenv("PAVED_PIPELINE_RUNNER", "kfp-docker")
    assert OperatorSettings().pipeline_runner is RunnerName.KFP_DOCKER
    monkeypatch.delenv("PAVED_PIPELINE_RUNNER")
    assert OperatorSettings().pipeline_runner is RunnerName.KFP_LOCAL  # the default
