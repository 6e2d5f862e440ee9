"""The training run judges a candidate against the model serving now: that model is scored on
the candidate's own holdout, drift is measured against what the online store serves for the
features the model leans on most, and a first model is judged on the absolute floor."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
from sklearn.metrics import roc_auc_score

from paved.adapters.online.redis import RedisOnlineStore
from paved.core.gates import GateVerdict, Verdict, most_important
from paved_local.platform import Endpoints
from paved_pipelines.serving import serving_inputs
from paved_pipelines.steps import (
    LABEL,
    Baseline,
    Evaluation,
    build_training_set,
    evaluate,
    feature_definitions,
    importances,
    resolve_views,
    scores,
    split_by_time,
    train,
)
from tests.support.training import training_request


def _gate(outcome: Evaluation, name: str) -> GateVerdict:
    (found,) = (v for v in outcome.verdicts if v.gate == name)
    return found


def test_the_model_serving_now_is_scored_on_the_candidates_own_holdout(data_root: Path) -> None:
    # Every slice judged: the example's new users are a handful of rows.
    request = training_request(data_root, "same-holdout").model_copy(
        update={"min_slice_support": 1}
    )
    earlier, later = split_by_time(build_training_set(request), "ts", 0.25)
    features = feature_definitions(request)
    serving_now = train(earlier, features, {"n_estimators": 5, "max_depth": 2}, 7)
    candidate = train(earlier, features, request.parameters, 42)

    outcome = evaluate(
        candidate, earlier, later, features, request, baseline=Baseline("churn-v1", serving_now)
    )

    labels = later.column(LABEL).to_numpy().astype(int)
    expected = roc_auc_score(labels, scores(serving_now, later, features))
    metric = _gate(outcome, "metric:auc")
    assert metric.message.startswith(
        f"auc {outcome.metrics['auc']:.4f} vs churn-v1 {expected:.4f} on the same holdout"
    )
    assert "vs churn-v1" in _gate(outcome, "slice:new_users").message
    assert outcome.reference == "churn-v1"


def test_a_reference_reading_a_feature_the_candidate_dropped_is_named_inconclusive(
    data_root: Path,
) -> None:
    request = training_request(data_root, "dropped-feature")
    earlier, later = split_by_time(build_training_set(request), "ts", 0.25)
    features = feature_definitions(request)
    serving_now = train(earlier, features, request.parameters, 42)
    fewer = {n: f for n, f in features.items() if n != "country"}
    candidate = train(earlier, fewer, request.parameters, 42)

    outcome = evaluate(
        candidate, earlier, later, fewer, request, baseline=Baseline("churn-v1", serving_now)
    )

    metric = _gate(outcome, "metric:auc")
    assert metric.verdict is Verdict.INCONCLUSIVE
    assert "reference churn-v1 not scored on the same holdout" in metric.message
    assert "it reads country" in metric.message


def test_a_first_model_is_judged_on_the_absolute_floor(data_root: Path) -> None:
    request = training_request(data_root, "first-model")
    earlier, later = split_by_time(build_training_set(request), "ts", 0.25)
    features = feature_definitions(request)
    outcome = evaluate(
        train(earlier, features, request.parameters, 42), earlier, later, features, request
    )
    metric = _gate(outcome, "metric:auc")
    assert (metric.verdict, metric.reason) == (Verdict.PASS, "FloorMet")
    assert metric.message.endswith("no reference: absolute floor 0.6000")
    assert not [v for v in outcome.verdicts if v.gate.startswith("drift:")]


def test_drift_compares_the_most_important_features_with_what_the_online_store_serves(
    data_root: Path, endpoints: Endpoints
) -> None:
    request = training_request(data_root, "drift-vs-serving").model_copy(
        update={"online_url": endpoints.redis}
    )
    drift = request.gates.drift.model_copy(update={"top_features": 3})
    request = request.model_copy(
        update={"gates": request.gates.model_copy(update={"drift": drift})}
    )
    earlier, later = split_by_time(build_training_set(request), "ts", 0.25)
    features = feature_definitions(request)
    candidate = train(earlier, features, request.parameters, 42)
    (view,) = resolve_views(request).values()
    store = RedisOnlineStore.from_url(endpoints.redis)
    # Each user's latest training values, served now; clicks five times what training saw.
    frame = earlier.select(["user_id", "ts", *features]).to_pandas()
    frame = frame.sort_values("ts").groupby("user_id").tail(1).drop(columns="ts")
    frame["clicks_7d"] = frame["clicks_7d"] * 5.0
    current = pa.Table.from_pandas(frame, preserve_index=False)
    now = dt.datetime.now(dt.UTC)
    current = current.append_column(
        "event_timestamp", pa.array([now] * current.num_rows, pa.timestamp("us", tz="UTC"))
    )
    store.write(view, current)
    try:
        serving = serving_inputs(request, earlier, list(features))
    finally:
        store.delete_view(view)
    assert serving is not None

    outcome = evaluate(
        candidate,
        earlier,
        later,
        features,
        request,
        baseline=Baseline("churn-v1", candidate),
        serving=serving,
    )

    judged = [v for v in outcome.verdicts if v.gate.startswith("drift:")]
    ranked = most_important(importances(candidate, later, features, request.seed), 3)
    assert [v.gate for v in judged] == [f"drift:{name}" for name in ranked]
    users = current.num_rows
    assert all(
        f"training vs serving inputs of {users}/{users} entities" in v.message for v in judged
    )
    assert _gate(outcome, "drift:clicks_7d").verdict is Verdict.FAIL
