"""The real training pipeline, through KFP's local runner, against the local MLflow."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import mlflow
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from kfp import local
from mlflow.tracking import MlflowClient

from paved.adapters.registry.mlflow import MlflowRegistry
from paved.local.platform import Endpoints
from paved_pipelines.compile import compile_all, compiled_path
from paved_pipelines.steps import (
    TrainingDataError,
    _slice_members,
    build_training_set,
    feature_definitions,
    scores,
    split_by_time,
    train,
)
from paved_pipelines.training import tabular_classifier
from tests.support.churn_data import write_churn_data
from tests.support.training import training_request


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("churn")
    write_churn_data(root)
    return root


def test_the_compiled_pipeline_is_up_to_date(tmp_path: Path) -> None:
    (fresh,) = compile_all(tmp_path)
    assert fresh.read_text() == compiled_path().read_text(), "run `make pipelines`"


def test_same_data_code_parameters_and_seed_give_the_same_predictions(data_root: Path) -> None:
    request = training_request(data_root, "repro")
    table = build_training_set(request)
    earlier, later = split_by_time(table, "ts", request.validation_fraction)
    features = feature_definitions(request)
    first = scores(train(earlier, features, request.parameters, 42), later, features)
    second = scores(train(earlier, features, request.parameters, 42), later, features)
    np.testing.assert_allclose(first, second, rtol=0, atol=1e-12)


def test_labels_without_matching_entities_are_refused_clearly(
    data_root: Path, tmp_path: Path
) -> None:
    request = training_request(data_root, "mismatch")
    moved = request.model_copy(update={"data_root": str(tmp_path)})
    with pytest.raises(TrainingDataError, match=r"labels at .*churn_labels\.parquet"):
        build_training_set(moved)


def test_a_missing_feature_is_named(data_root: Path) -> None:
    request = training_request(data_root, "missing")
    selection = request.features[0].model_copy(update={"names": ["clicks_7d", "likes_7d"]})
    broken = request.model_copy(update={"features": [selection]})
    with pytest.raises(TrainingDataError, match="has no feature 'likes_7d'"):
        feature_definitions(broken)


def test_pipeline_trains_evaluates_and_logs_with_lineage(
    data_root: Path, endpoints: Endpoints, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", endpoints.mlflow)
    mlflow.set_tracking_uri(endpoints.mlflow)
    run_key = f"uid-{uuid.uuid4().hex[:8]}-1"
    request = training_request(data_root, run_key)
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path))

    outcome = json.loads(tabular_classifier(request=request.model_dump_json()).output)

    assert outcome["passed"], outcome["verdicts"]
    assert outcome["metrics"]["auc"] > 0.7
    assert outcome["lineage"]["rows"] == 1200
    gates = {v["gate"] for v in outcome["verdicts"]}
    assert {"metric:auc", "slice:new_users", "golden", "schema:clicks_7d"} <= gates
    run = MlflowClient(endpoints.mlflow).get_run(outcome["mlflowRunId"])
    assert run.data.tags["paved.run_key"] == run_key
    assert len(run.data.tags["paved.dataset_hash"]) == 64
    assert json.loads(run.data.tags["paved.feature_views"]) == outcome["lineage"]["featureViews"]
    assert run.data.params["seed"] == "42"

    # The outcome is in MLflow too: KFP's API does not hand pipeline outputs back.
    logged = asyncio.run(MlflowRegistry(endpoints.mlflow).training_outcome("churn", run_key))
    assert logged is not None
    assert json.loads(logged) == outcome

    # Running the same key again reuses the run rather than logging a second one.
    again = json.loads(tabular_classifier(request=request.model_dump_json()).output)
    assert again["mlflowRunId"] == outcome["mlflowRunId"]


def test_a_cohort_column_reaches_the_slices_and_never_the_model(
    data_root: Path, tmp_path: Path
) -> None:
    labels = pq.read_table(data_root / "churn_labels.parquet")
    bands = pa.array(
        ["65+" if u % 4 == 0 else "25-44" for u in labels.column("user_id").to_pylist()]
    )
    pq.write_table(labels.append_column("age_band", bands), tmp_path / "churn_labels.parquet")
    (tmp_path / "activity").symlink_to(data_root / "activity")
    request = training_request(tmp_path, "cohorts")
    with_cohort = request.labels.model_copy(update={"cohort_columns": ["age_band"]})
    request = request.model_copy(update={"labels": with_cohort})
    table = build_training_set(request)
    assert table.column("age_band").to_pylist()[:4] == bands.to_pylist()[:4]
    model = train(table, feature_definitions(request), request.parameters, 42)
    assert "age_band" not in set(model.feature_names_in_)
    assert _slice_members(table, "age_band = '65+'").sum() == bands.to_pylist().count("65+")
