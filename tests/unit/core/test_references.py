from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from paved.api.model_version import ModelVersionSpec
from paved.api.rollout import RolloutSpec
from paved.core.model_versions import registered_model_name, run_key
from paved.core.references import Reference, acceptance, references_of

ROOT = Path(__file__).resolve().parents[3]


def _spec(example: str) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((ROOT / "examples" / example).read_text())["spec"]
    return spec


def test_a_model_version_refers_to_each_feature_view_or_batch_prediction_once() -> None:
    raw = _spec("02-modelversion.yaml")
    raw["features"].append({"featureView": "user-activity-v1", "names": ["country"]})
    raw["features"].append({"featureView": "payments-v3", "names": ["amount_30d"]})
    spec = ModelVersionSpec.model_validate(raw)
    either = ("BatchPrediction",)  # a hybrid reads a BatchPrediction's predictions as features
    assert references_of(spec) == [
        Reference("FeatureView", "payments-v3", either),
        Reference("FeatureView", "user-activity-v1", either),
    ]
    observed = acceptance(references_of(spec)[:1], "team-x")
    assert observed.message == (
        "Waiting for FeatureView or BatchPrediction payments-v3 in namespace team-x: not found."
    )


def test_a_rollout_refers_to_its_candidate_and_explicit_baseline() -> None:
    spec = RolloutSpec.model_validate({**_spec("03-rollout.yaml"), "baseline": "churn-v0"})
    assert references_of(spec) == [
        Reference("ModelVersion", "churn-v0"),
        Reference("ModelVersion", "churn-v1"),
    ]


def test_acceptance_names_every_missing_reference() -> None:
    missing = [Reference("ModelVersion", "b"), Reference("FeatureView", "a")]
    observed = acceptance(missing, "team-x")
    assert (observed.status, observed.reason) == ("False", "ReferenceNotFound")
    assert observed.message == (
        "Waiting for FeatureView a, ModelVersion b in namespace team-x: not found."
    )
    assert acceptance([], "team-x").status == "True"


def test_a_sign_off_does_not_change_the_run_key_but_the_training_input_does() -> None:
    raw = _spec("02-modelversion.yaml")
    spec = ModelVersionSpec.model_validate(raw)
    signed = ModelVersionSpec.model_validate(
        raw
        | {
            "approval": raw["approval"]
            | {"signOff": {"by": "alice", "registryVersion": "3", "gatesDigest": "sha256:g"}}
        }
    )
    assert run_key("uid", spec, namespace="ml") == run_key("uid", signed, namespace="ml")
    stricter = ModelVersionSpec.model_validate(
        raw | {"gates": raw["gates"] | {"drift": {"maxPsi": 0.1}}}
    )
    assert run_key("uid", stricter, namespace="ml") != run_key("uid", spec, namespace="ml")
    assert run_key("uid", spec, namespace="ml").startswith("ml.uid-")


def test_the_registry_and_run_keys_name_a_models_namespace() -> None:
    assert registered_model_name("team-a", "churn") == "team-a.churn"
    assert registered_model_name("team-a", "churn") != registered_model_name("team-b", "churn")
    # A namespace holds no dot: the first one ends it, however dotted the model's name.
    assert registered_model_name("team-a", "b.churn").split(".", 1) == ["team-a", "b.churn"]


def test_task_types_leave_an_existing_specs_run_key_as_it_was() -> None:
    # The key main computed for examples/02-modelversion.yaml before task types (issue #20):
    # an upgrade must not retrain every ModelVersion.
    spec = ModelVersionSpec.model_validate(_spec("02-modelversion.yaml"))
    assert run_key("uid", spec, namespace="ml") == "ml.uid-6a8349563e89"
    regression = ModelVersionSpec.model_validate(
        _spec("02-modelversion.yaml")
        | {"task": "regression", "gates": {"metric": {"name": "rmse"}}}
    )
    assert run_key("uid", regression, namespace="ml") != run_key("uid", spec, namespace="ml")
