"""A served model's registry version rides beside its storage URI, in annotations, and is read
back from there: never parsed out of the URI."""

from __future__ import annotations

from paved.adapters.kubernetes.evidence import _arms
from paved.adapters.traffic.seldon_v1 import _with_model
from paved.core.lineage import SubjectKind
from paved.core.serving import ServedModel, served_version

V2 = ServedModel("s3://paved/mlflow/1/models/m-2/artifacts", "ml.churn", "2")
BASELINE = {
    "name": "baseline",
    "traffic": 100,
    "annotations": {"paved.dev/model": "ml.churn", "paved.dev/model-version": "1", "team": "a"},
    "graph": {"name": "classifier", "modelUri": "s3://paved/mlflow/1/models/m-1/artifacts"},
}


def test_a_predictor_given_another_model_carries_that_models_version_not_the_baselines() -> None:
    candidate = _with_model(BASELINE, "candidate", V2)
    assert candidate["graph"]["modelUri"] == V2.uri
    assert candidate["annotations"] == {
        "paved.dev/model": "ml.churn",
        "paved.dev/model-version": "2",
        "team": "a",  # what paved does not own stays
    }
    unknown = _with_model(BASELINE, "candidate", ServedModel(V2.uri))
    assert served_version(unknown["annotations"]) is None  # never version 1's beside v2's URI


def test_lineage_reads_the_version_from_the_annotations_of_each_backend() -> None:
    seldon = {"metadata": {}, "spec": {"predictors": [_with_model(BASELINE, "baseline", V2)]}}
    (arm,) = _arms(SubjectKind.SELDON_DEPLOYMENT, seldon)
    assert (arm.model_uri, arm.registered) == (V2.uri, ("ml.churn", "2"))
    kserve = {
        "metadata": {"annotations": V2.annotations()},
        "spec": {"predictor": {"model": {"storageUri": V2.uri}}},
    }
    (arm,) = _arms(SubjectKind.INFERENCE_SERVICE, kserve)
    assert (arm.model_uri, arm.weight, arm.registered) == (V2.uri, 100, ("ml.churn", "2"))
    bare = {"metadata": {}, "spec": {"predictor": {"model": {"storageUri": V2.uri}}}}
    assert _arms(SubjectKind.INFERENCE_SERVICE, bare)[0].registered is None
