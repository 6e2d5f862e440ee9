"""KServe's controller's bookkeeping (the data plane's locally, the KServe stand-in's on a
cluster): revisions and traffic as KServe sets them for canaryTrafficPercent (kserve.github.io,
"Canary Rollout Strategy"), and the status it writes."""

from __future__ import annotations

from typing import Any

from paved_local.dataplane.kserve import addressed, route_of
from paved_local.kserve.revisions import (
    Revision,
    Revisions,
    reconcile,
    remembered,
    status_of,
    traffic,
)

BASELINE, CANDIDATE = "models:/churn/1", "models:/churn/2"


def _everything_loads(_revision: Revision) -> bool:
    return True


def _service(uri: str, canary: int | None, status: dict[str, Any] | None = None) -> dict[str, Any]:
    predictor: dict[str, Any] = {"model": {"modelFormat": {"name": "mlflow"}, "storageUri": uri}}
    if canary is not None:
        predictor["canaryTrafficPercent"] = canary
    return {
        "metadata": {"name": "churn", "namespace": "ml", "generation": 4},
        "spec": {"predictor": predictor},
        "status": status or {},
    }


def _only_the_baseline_loads(revision: Revision) -> bool:
    return revision.model_uri == BASELINE


def _rolled_out_baseline() -> Revisions:
    return reconcile("churn", Revisions(), BASELINE, None, _everything_loads)


def test_the_first_revision_takes_all_traffic() -> None:
    first = _rolled_out_baseline()
    assert first.latest_ready == first.latest_rolledout == "churn-predictor-00001"
    assert traffic(first, None) == [
        {
            "tag": "latest",
            "revisionName": "churn-predictor-00001",
            "latestRevision": True,
            "percent": 100,
        },
    ]


def test_a_canary_splits_between_the_previous_rolled_out_revision_and_the_latest() -> None:
    canary = reconcile("churn", _rolled_out_baseline(), CANDIDATE, 20, _everything_loads)
    assert canary.latest_ready == "churn-predictor-00002"
    assert canary.latest_rolledout == "churn-predictor-00001"
    assert [(t["tag"], t["revisionName"], t["percent"]) for t in traffic(canary, 20)] == [
        ("prev", "churn-predictor-00001", 80),
        ("latest", "churn-predictor-00002", 20),
    ]
    # A new weight moves traffic, and makes no new revision.
    wider = reconcile("churn", canary, CANDIDATE, 50, _everything_loads)
    assert wider.created == canary.created
    # Zero pins everything to the previous revision: KServe's rollback.
    assert [t["percent"] for t in traffic(wider, 0)] == [100, 0]


def test_clearing_the_canary_rolls_the_latest_revision_out() -> None:
    canary = reconcile("churn", _rolled_out_baseline(), CANDIDATE, 20, _everything_loads)
    promoted = reconcile("churn", canary, CANDIDATE, None, _everything_loads)
    assert promoted.latest_rolledout == "churn-predictor-00002"
    assert promoted.previous_rolledout == "churn-predictor-00001"
    assert [t["percent"] for t in traffic(promoted, None)] == [100]


def test_a_revision_whose_model_does_not_load_never_takes_traffic() -> None:
    stuck = reconcile("churn", _rolled_out_baseline(), CANDIDATE, 20, _only_the_baseline_loads)
    assert stuck.created[-1].name == "churn-predictor-00002"
    assert stuck.latest_ready == "churn-predictor-00001"
    assert [t["percent"] for t in traffic(stuck, 20)] == [100]
    status = status_of(_service(CANDIDATE, 20), stuck, 20, "models:/churn/2: not found")
    assert status["conditions"][0]["status"] == "False"
    predictor = status["components"]["predictor"]
    assert predictor["latestCreatedRevision"] != predictor["latestReadyRevision"]


def test_the_status_remembers_each_revisions_model_across_restarts() -> None:
    canary = reconcile("churn", _rolled_out_baseline(), CANDIDATE, 20, _everything_loads)
    service = _service(CANDIDATE, 20, status_of(_service(CANDIDATE, 20), canary, 20, None))
    assert remembered(service) == canary
    route = route_of(service, remembered(service), 20)
    assert [(p.name, p.model_uri, p.traffic) for p in route.live] == [
        ("churn-predictor-00001", BASELINE, 80),
        ("churn-predictor-00002", CANDIDATE, 20),
    ]
    assert service["status"]["observedGeneration"] == 4


def test_requests_are_addressed_by_host_as_kserves_ingress_does() -> None:
    assert addressed("churn.ml.example.com") == ("ml", "churn")
    assert addressed("churn.ml.example.com:8080") == ("ml", "churn")
    assert addressed("127.0.0.1:8080") == ("0", "127")  # not an InferenceService's: no route
    assert addressed("localhost") is None
