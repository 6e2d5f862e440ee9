"""The real training pipeline, through KFP's local runner, against the local MLflow."""

from __future__ import annotations

import asyncio
import json
import shutil
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
from paved.errors import PathOutsideDataRootError
from paved_local.platform import Endpoints
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
from tests.support.training import NAMESPACE, training_request


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
    labels = pq.read_table(data_root / NAMESPACE / "churn_labels.parquet")
    bands = pa.array(
        ["65+" if u % 4 == 0 else "25-44" for u in labels.column("user_id").to_pylist()]
    )
    (tmp_path / NAMESPACE).mkdir()
    pq.write_table(
        labels.append_column("age_band", bands), tmp_path / NAMESPACE / "churn_labels.parquet"
    )
    # A copy: a link to the other data root would be a link out of this one, and refused.
    shutil.copytree(data_root / NAMESPACE / "activity", tmp_path / NAMESPACE / "activity")
    request = training_request(tmp_path, "cohorts")
    with_cohort = request.labels.model_copy(update={"cohort_columns": ["age_band"]})
    request = request.model_copy(update={"labels": with_cohort})
    table = build_training_set(request)
    assert table.column("age_band").to_pylist()[:4] == bands.to_pylist()[:4]
    model = train(table, feature_definitions(request), request.parameters, 42)
    assert "age_band" not in set(model.feature_names_in_)
    assert _slice_members(table, "over_65", "age_band = '65+'").sum() == bands.to_pylist().count(
        "65+"
    )


def test_a_slice_naming_a_column_the_evaluation_rows_lack_is_refused_by_name(
    data_root: Path,
) -> None:
    table = build_training_set(training_request(data_root, "unknown-column"))
    with pytest.raises(TrainingDataError, match=r"slice young: where: no column 'age'"):
        _slice_members(table, "young", "age < 30 AND tenure_days < 60")


def test_a_slice_filter_outside_the_language_is_refused_before_duckdb_sees_it(
    data_root: Path,
) -> None:
    # The spec refuses it too; the run does not trust that the text it was handed was checked.
    table = build_training_set(training_request(data_root, "hostile-slice"))
    with pytest.raises(TrainingDataError, match="function calls are not allowed"):
        _slice_members(table, "leak", "read_csv('/etc/passwd') IS NOT NULL")


def test_labels_behind_a_link_out_of_the_namespace_data_root_are_refused(
    data_root: Path, tmp_path: Path
) -> None:
    (tmp_path / NAMESPACE).mkdir()
    shutil.copytree(data_root / NAMESPACE / "activity", tmp_path / NAMESPACE / "activity")
    # The labels are another namespace's file, reached through a link.
    (tmp_path / "other-team").mkdir()
    shutil.copy(data_root / NAMESPACE / "churn_labels.parquet", tmp_path / "other-team")
    link = tmp_path / NAMESPACE / "churn_labels.parquet"
    link.symlink_to(tmp_path / "other-team" / "churn_labels.parquet")
    with pytest.raises(PathOutsideDataRootError, match=r"spec\.labels\.path .*other-team"):
        build_training_set(training_request(tmp_path, "linked-labels"))
