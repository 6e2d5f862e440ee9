"""The MLflow registry adapter against the real MLflow server."""

from __future__ import annotations

import asyncio
import uuid

import mlflow
import pytest
from mlflow.tracking import MlflowClient
from sklearn.linear_model import LogisticRegression

from paved.adapters.registry.mlflow import KEY_TAG, MlflowRegistry
from paved.api.model_version import Stage
from paved.core.model_versions import registered_model_name
from paved.core.registry_memory import REPLACED_TAG
from paved.errors import PermanentError
from paved.ports.registry import APPROVED_BY_TAG
from paved_local.platform import Endpoints


def _logged_run(endpoints: Endpoints) -> str:
    mlflow.set_tracking_uri(endpoints.mlflow)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), name="model")
    return str(run.info.run_id)


@pytest.fixture
def model() -> str:
    """A model's registry name as the operator makes it: every test here also checks that MLflow
    takes the namespace's dot in names, searches, aliases and `models:/` URIs."""
    return registered_model_name(f"t-{uuid.uuid4().hex[:8]}", "churn")


def test_two_namespaces_models_of_one_name_are_two_models(endpoints: Endpoints) -> None:
    registry = MlflowRegistry(endpoints.mlflow)
    ours, theirs = (registered_model_name(f"t-{uuid.uuid4().hex[:8]}", "churn") for _ in "ab")
    mine = asyncio.run(registry.register(ours, _logged_run(endpoints), "key-a", {}))
    other = asyncio.run(registry.register(theirs, _logged_run(endpoints), "key-b", {}))
    asyncio.run(registry.set_stage(ours, mine.version, Stage.PRODUCTION))

    # Each is version 1 of its own model; production in one says nothing of the other.
    assert (mine.version, other.version) == ("1", "1")
    assert asyncio.run(registry.find(theirs, "key-a")) is None
    assert asyncio.run(registry.in_stage(theirs, Stage.PRODUCTION)) is None
    production = asyncio.run(registry.in_stage(ours, Stage.PRODUCTION))
    assert production is not None
    assert production.run_id == mine.run_id
    mlflow.set_tracking_uri(endpoints.mlflow)
    served = mlflow.sklearn.load_model(f"models:/{ours}@production")
    assert list(served.predict([[0.0], [1.0]])) == [0, 1]


def test_registration_is_idempotent_by_key(endpoints: Endpoints, model: str) -> None:
    registry = MlflowRegistry(endpoints.mlflow)
    run_id = _logged_run(endpoints)
    first = asyncio.run(registry.register(model, run_id, "uid-1", {"paved.dataset_hash": "abc"}))
    again = asyncio.run(registry.register(model, run_id, "uid-1", {"paved.dataset_hash": "abc"}))
    assert again.version == first.version
    versions = MlflowClient(endpoints.mlflow).search_model_versions(f"name = '{model}'")
    assert [v.tags[KEY_TAG] for v in versions] == ["uid-1"]
    assert first.stage is Stage.TRAINED


def test_a_duplicate_made_by_mlflows_own_retry_is_removed_and_the_first_kept(
    endpoints: Endpoints, model: str
) -> None:
    registry = MlflowRegistry(endpoints.mlflow)
    run_id = _logged_run(endpoints)
    first = asyncio.run(registry.register(model, run_id, "uid-1", {}))
    # What MLflow's client leaves when it sends a create again after losing the reply to one
    # the server had committed: a second version with the same key.
    client = MlflowClient(endpoints.mlflow)
    duplicate = client.create_model_version(
        model, f"runs:/{run_id}/model", run_id=run_id, tags={KEY_TAG: "uid-1"}
    )
    assert int(duplicate.version) > int(first.version)

    again = asyncio.run(registry.register(model, run_id, "uid-1", {}))

    assert again.version == first.version
    versions = client.search_model_versions(f"name = '{model}'")
    assert [str(v.version) for v in versions] == [first.version]


def test_a_registered_version_serves_the_model_the_run_logged(
    endpoints: Endpoints, model: str
) -> None:
    registry = MlflowRegistry(endpoints.mlflow)
    version = asyncio.run(registry.register(model, _logged_run(endpoints), "uid-1", {}))
    mlflow.set_tracking_uri(endpoints.mlflow)
    served = mlflow.sklearn.load_model(version.uri)
    assert list(served.predict([[0.0], [1.0]])) == [0, 1]


def test_a_registered_run_without_a_model_is_refused(endpoints: Endpoints, model: str) -> None:
    mlflow.set_tracking_uri(endpoints.mlflow)
    with mlflow.start_run() as run:
        mlflow.log_param("alpha", 1)
    with pytest.raises(PermanentError, match="logged no model"):
        asyncio.run(MlflowRegistry(endpoints.mlflow).register(model, run.info.run_id, "k", {}))


def test_a_new_production_version_archives_the_previous_one(
    endpoints: Endpoints, model: str
) -> None:
    registry = MlflowRegistry(endpoints.mlflow)
    v1 = asyncio.run(registry.register(model, _logged_run(endpoints), "uid-1", {}))
    v2 = asyncio.run(registry.register(model, _logged_run(endpoints), "uid-2", {}))
    asyncio.run(registry.set_stage(model, v1.version, Stage.PRODUCTION))
    asyncio.run(registry.set_stage(model, v2.version, Stage.STAGING))
    asyncio.run(registry.set_stage(model, v2.version, Stage.PRODUCTION))

    production = asyncio.run(registry.in_stage(model, Stage.PRODUCTION))
    assert production is not None
    assert production.version == v2.version
    assert asyncio.run(registry.in_stage(model, Stage.STAGING)) is None  # the alias moved on
    archived = asyncio.run(registry.find(model, "uid-1"))
    assert archived is not None
    assert archived.stage is Stage.ARCHIVED
    # What a revert restores: the new production version names the one it replaced.
    assert production.tags[REPLACED_TAG] == v1.version


def test_the_registrys_memory_is_written_on_the_version_and_read_back_by_number(
    endpoints: Endpoints, model: str
) -> None:
    registry = MlflowRegistry(endpoints.mlflow)
    version = asyncio.run(registry.register(model, _logged_run(endpoints), "uid-1", {}))
    memory = {"paved.rollout.churn-v2": '{"outcome": "RolledBack"}', "paved.reverted": "{}"}
    asyncio.run(registry.annotate(model, version.version, memory))

    found = asyncio.run(registry.version(model, version.version))
    assert found is not None
    assert {k: found.tags[k] for k in memory} == memory
    assert asyncio.run(registry.version(model, "99")) is None


def test_sign_off_is_recorded_on_the_version(endpoints: Endpoints, model: str) -> None:
    registry = MlflowRegistry(endpoints.mlflow)
    version = asyncio.run(registry.register(model, _logged_run(endpoints), "uid-1", {}))
    asyncio.run(
        registry.record_sign_off(
            model, version.version, "alice", "2026-11-26T12:00:00Z", "AUC holds"
        )
    )
    found = asyncio.run(registry.find(model, "uid-1"))
    assert found is not None
    assert found.tags[APPROVED_BY_TAG] == "alice"
    assert found.tags["paved.approval_comment"] == "AUC holds"
