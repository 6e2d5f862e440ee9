"""Each router's metric observer: the PromQL for the built-in guardrails on its backend's own
metrics, per arm. Seldon's executor histogram by predictor; KServe's (Knative's) request count and
latencies by revision, the revisions read from the InferenceService's status."""

from __future__ import annotations

from typing import Any

import pytest

from paved.adapters.traffic import kserve, seldon_v1
from paved.api.rollout import BuiltinGuardrail
from paved.core.rollout_steps import Traffic
from paved.core.serving import Arm
from paved.errors import PermanentError


def test_seldon_builtins_read_the_executor_metric_per_predictor() -> None:
    queries = seldon_v1.builtin_queries(
        BuiltinGuardrail.ERROR_RATE, "ml", "churn", "candidate", "1m"
    )
    assert (
        'seldon_api_executor_server_requests_seconds_count{namespace="ml",deployment_name="churn",'
        in queries.value
    )
    assert 'predictor_name="candidate",service="predictions",code!~"200|OK"}[1m]' in queries.value
    assert queries.samples.startswith(
        "sum(increase(seldon_api_executor_server_requests_seconds_count"
    )
    latency = seldon_v1.builtin_queries(
        BuiltinGuardrail.LATENCY_P99, "ml", "churn", "candidate", "1m"
    )
    assert latency.value.startswith("histogram_quantile(0.99, sum by (le)")
    assert latency.value.endswith("* 1000")  # Seldon's histogram is in seconds


def test_kserve_builtins_read_knatives_revision_metrics() -> None:
    errors = kserve.builtin_queries(
        BuiltinGuardrail.ERROR_RATE, "ml", "churn", "churn-predictor-00002", "1m"
    )
    assert (
        'revision_request_count{namespace_name="ml",revision_name="churn-predictor-00002",'
        'response_code_class="5xx"}[1m]' in errors.value
    )
    assert errors.samples == (
        'sum(increase(revision_request_count{namespace_name="ml",'
        'revision_name="churn-predictor-00002"}[1m]))'
    )
    latency = kserve.builtin_queries(
        BuiltinGuardrail.LATENCY_P99, "ml", "churn", "churn-predictor-1", "1m"
    )
    assert "revision_request_latencies_bucket" in latency.value
    assert "1000" not in latency.value  # Knative's latencies are in milliseconds already


def _service(
    uri: str,
    traffic: list[dict[str, Any]],
    *,
    generation: int = 2,
    observed: int = 2,
    latest_ready: str = "churn-predictor-00002",
) -> dict[str, Any]:
    return {
        "metadata": {"name": "churn", "generation": generation},
        "spec": {"predictor": {"model": {"storageUri": uri}, "canaryTrafficPercent": 20}},
        "status": {
            "observedGeneration": observed,
            "components": {
                "predictor": {
                    "latestCreatedRevision": "churn-predictor-00002",
                    "latestReadyRevision": latest_ready,
                    "latestRolledoutRevision": "churn-predictor-00001",
                    "traffic": traffic,
                }
            },
        },
    }


CANARY = [
    {
        "revisionName": "churn-predictor-00001",
        "percent": 80,
        "latestRevision": False,
        "tag": "prev",
    },
    {
        "revisionName": "churn-predictor-00002",
        "percent": 20,
        "latestRevision": True,
        "tag": "latest",
    },
]


def test_kserve_reads_the_split_by_model_and_the_arms_by_revision() -> None:
    service = _service("models:/churn/2", CANARY)
    assert kserve.split(service, "models:/churn/2") == Traffic(80, 20)
    assert kserve.revision_of(service, Arm.CANDIDATE) == "churn-predictor-00002"
    assert kserve.revision_of(service, Arm.BASELINE) == "churn-predictor-00001"
    with pytest.raises(PermanentError, match="no shadow"):
        kserve.revision_of(service, Arm.SHADOW)
    # Another model in the spec: whatever the split, the candidate serves nothing.
    assert kserve.split(service, "models:/churn/3") == Traffic(100, 0)


@pytest.mark.parametrize(
    "stale",
    [
        {"generation": 3, "observed": 2},  # KServe has not seen the spec yet
        {"latest_ready": "churn-predictor-00001"},  # the candidate's revision is not ready
    ],
)
def test_kserve_never_reads_the_candidate_serving_from_a_status_behind_its_spec(
    stale: dict[str, Any],
) -> None:
    everything = [{"revisionName": "churn-predictor-00001", "percent": 100, "latestRevision": True}]
    service = _service("models:/churn/2", everything, **stale)
    assert kserve.split(service, "models:/churn/2") == Traffic(100, 0)
