"""The data plane's prediction logger: records written to Parquet partitions off the request path,
a full queue dropping (and counting) rather than waiting, and rows carrying what the model saw."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import CollectorRegistry

from paved.adapters.prediction_log import parquet
from paved.core.prediction_log import LogKind, OutcomeKind, Prediction, entity_key
from paved.core.serving import MODEL_ANNOTATION, MODEL_VERSION_ANNOTATION
from paved_local.dataplane import kserve
from paved_local.dataplane.prediction_log import (
    LogSettings,
    PredictionLogger,
    Served,
    entities,
    feedback_records,
    prediction_records,
    truths,
)
from paved_local.dataplane.routing import route_of
from paved_local.dataplane.scores import Scores
from paved_local.kserve import revisions

NOW = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)


def _route(annotated: bool = True) -> Served:
    annotations = {MODEL_ANNOTATION: "shop.churn", MODEL_VERSION_ANNOTATION: "3"}
    deployment = {
        "metadata": {"namespace": "shop", "name": "churn-serving"},
        "spec": {
            "predictors": [
                {
                    "name": "main",
                    "graph": {"modelUri": "s3://paved/m"},
                    **({"annotations": annotations} if annotated else {}),
                }
            ]
        },
    }
    route = route_of(deployment)
    rows = [{"clicks_7d": 3.5, "plan": "basic"}, {"clicks_7d": 80.0, "plan": "pro"}]
    keys = entities({"entity": [{"user_id": 1}, {"user_id": 2}]}, 2)
    return Served(route, route.live[0], "abc", keys, rows, Scores(np.array([0.8, 0.1])))


def _record(n: int) -> parquet.PredictionRecord:
    prediction = Prediction(f"r{n}", entity_key({"user_id": n}), NOW, "3", 0.5)
    return parquet.PredictionRecord("shop", "churn", "main", prediction, {"x": n})


def _count(registry: CollectorRegistry, result: str) -> float:
    value = registry.get_sample_value(
        "paved_prediction_log_records_total", {"kind": "prediction", "result": result}
    )
    return value or 0.0


def test_a_served_request_becomes_one_record_per_row_under_its_registry_version() -> None:
    records = prediction_records(_route(), NOW)
    rows = [r.row() for r in records]
    assert [r["request_id"] for r in rows] == ["abc:0", "abc:1"]
    assert [r["entity"] for r in rows] == ['{"user_id":1}', '{"user_id":2}']
    assert json.loads(str(rows[1]["features"])) == {"clicks_7d": 80.0, "plan": "pro"}
    assert {(r["model"], r["model_version"], r["predictor"]) for r in rows} == {
        ("churn", "3", "main")
    }


def test_a_multiclass_answer_is_logged_with_its_class_vector_and_top_probability() -> None:
    served = _route()
    vectors = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]])
    multiclass = Served(
        served.route, served.predictor, "abc", served.entities, served.features, Scores(vectors)
    )

    rows = [r.row() for r in prediction_records(multiclass, NOW)]

    assert [r["score"] for r in rows] == [0.7, 0.6]
    assert [r["class_scores"] for r in rows] == vectors.tolist()
    assert [r.row()["class_scores"] for r in prediction_records(served, NOW)] == [None, None]


def test_a_predictor_paved_did_not_annotate_is_logged_under_its_deployment() -> None:
    served = _route(annotated=False)
    assert {r.model for r in prediction_records(served, NOW)} == {"churn-serving"}
    (feedback,) = feedback_records(
        served.route, served.predictor, "abc", reward=1.0, truths=[], now=NOW
    )
    assert (feedback.namespace, feedback.model, feedback.outcome.key) == (
        "shop",
        "churn-serving",
        "abc",
    )


def test_feedback_logs_its_reward_apart_and_its_truth_as_each_rows_label() -> None:
    served = _route()
    truth = {"data": {"ndarray": [[1], [0]]}}

    records = feedback_records(
        served.route, served.predictor, "abc", reward=0.5, truths=truths(truth), now=NOW
    )

    outcomes = [(r.outcome.kind, r.outcome.key, r.outcome.value) for r in records]
    assert outcomes == [
        (OutcomeKind.REWARD, "abc", 0.5),
        (OutcomeKind.FEEDBACK, "abc:0", 1.0),
        (OutcomeKind.FEEDBACK, "abc:1", 0.0),
    ]


@pytest.mark.parametrize(
    "truth",
    [
        {"data": {"ndarray": [["yes"]]}},
        {"data": {"ndarray": []}},
        {"data": {"ndarray": [[1, 0]]}},
        {"data": {"ndarray": [True]}},
        {"data": {"ndarray": [[float("inf")]]}},
        {"strData": "1"},
    ],
)
def test_a_truth_that_is_no_label_is_refused(truth: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="truth"):
        truths(truth)


def test_a_tensor_truth_gives_its_values() -> None:
    assert truths({"data": {"tensor": {"shape": [2, 1], "values": [2, 0]}}}) == [2.0, 0.0]


def test_entities_must_name_each_row() -> None:
    assert entities({}, 2) == ["", ""]
    assert entities({"entity": {"user_id": 7}}, 1) == ['{"user_id":7}']
    with pytest.raises(ValueError, match="one object of join keys per row"):
        entities({"entity": {"user_id": 7}}, 2)


def test_records_are_written_to_their_partition_off_the_callers_thread(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    logger = PredictionLogger(LogSettings(tmp_path, flush_seconds=0.05), registry)
    for n in range(50):
        logger.offer(_record(n))
    logger.close()
    table = parquet.read(str(tmp_path), "shop", LogKind.PREDICTIONS, "churn", [NOW.date()])
    assert sorted(table["request_id"].to_pylist()) == sorted(f"r{n}" for n in range(50))
    assert (tmp_path / "shop/predictions/model=churn/day=2026-12-05").is_dir()
    assert _count(registry, "written") == 50


def test_a_full_queue_drops_and_counts_instead_of_waiting(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    settings = LogSettings(tmp_path, capacity=10, batch_rows=10, flush_seconds=0.05)
    logger = PredictionLogger(settings, registry)
    for n in range(5_000):
        logger.offer(_record(n))
    logger.close()
    written, dropped = _count(registry, "written"), _count(registry, "dropped")
    assert dropped > 0
    assert written + dropped == 5_000
    table = parquet.read(str(tmp_path), "shop", LogKind.PREDICTIONS, "churn", [NOW.date()])
    assert table.num_rows == written


def test_a_rate_outside_zero_to_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        PredictionLogger(LogSettings(tmp_path, rate=2.0), CollectorRegistry())


def test_only_the_revision_of_the_spec_model_carries_the_annotated_registry_version() -> None:
    old, new = "s3://paved/old", "s3://paved/new"
    rolled_out = revisions.reconcile("churn", revisions.Revisions(), old, None, lambda _: True)
    canary = revisions.reconcile("churn", rolled_out, new, 20, lambda _: True)
    service = {
        "metadata": {
            "name": "churn",
            "namespace": "shop",
            "annotations": {MODEL_ANNOTATION: "shop.churn", MODEL_VERSION_ANNOTATION: "4"},
        },
        "spec": {"predictor": {"model": {"storageUri": new}, "canaryTrafficPercent": 20}},
    }
    route = kserve.route_of(service, canary, 20)
    assert [(p.model_uri, p.registered) for p in route.live] == [
        (old, None),
        (new, ("shop.churn", "4")),
    ]
