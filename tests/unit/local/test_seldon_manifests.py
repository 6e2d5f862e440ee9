"""The Seldon stand-in renders what Seldon Core v1's controller creates for a SeldonDeployment:
the names, labels, init container and MLServer settings below are Seldon's own (its
`seldondeployment_types.go` naming, `labels.go`, `model_initializer_injector.go`,
`mlserver.go`), so a test here fails the day the stand-in drifts from the real contract."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

from paved_local.seldon.manifests import (
    INITIALIZE,
    ModelServer,
    Observed,
    model_endpoint,
    plan,
    status,
)

SERVER = ModelServer("ghcr.io/paved-dev/paved-model-server:1.7.1")
URI = "s3://paved/mlflow/1/models/m-1/artifacts"


def _sdep(*predictors: dict[str, Any], name: str = "churn") -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name, "namespace": "team-a", "uid": "u-1"},
        "spec": {"predictors": list(predictors)},
    }


def _predictor(name: str, uri: str = URI, **extra: Any) -> dict[str, Any]:
    graph = {"name": "classifier", "implementation": "MLFLOW_SERVER", "modelUri": uri}
    return {"name": name, "traffic": 100, "graph": graph, **extra}


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", [])}


def test_each_predictor_gets_a_deployment_and_service_under_seldons_names_and_labels() -> None:
    (baseline,) = plan(_sdep(_predictor("baseline")), SERVER)

    assert baseline.deployment is not None
    assert baseline.service is not None
    assert baseline.deployment["metadata"]["name"] == "churn-baseline-0-classifier"
    assert baseline.service["metadata"]["name"] == "churn-baseline-classifier"
    labels = baseline.deployment["spec"]["template"]["metadata"]["labels"]
    assert (
        labels.items()
        >= {
            "seldon-deployment-id": "churn",
            "seldon-app": "churn-baseline",
            "seldon-app-svc": "churn-baseline-classifier",
            "seldon.io/model": "true",
            "app.kubernetes.io/managed-by": "seldon-core",
            "app": "churn-baseline-0-classifier",
        }.items()
    )
    assert baseline.service["spec"]["selector"] == {"seldon-app-svc": "churn-baseline-classifier"}
    assert [(p["name"], p["port"]) for p in baseline.service["spec"]["ports"]] == [
        ("http", 9000),
        ("grpc", 9500),
    ]
    owner = baseline.deployment["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["uid"], owner["controller"]) == ("SeldonDeployment", "u-1", True)


def test_a_name_past_63_characters_is_hashed_as_seldon_hashes_it() -> None:
    long = "a-very-long-seldon-deployment-name-for-a-churn-model"
    (planned,) = plan(_sdep(_predictor("candidate"), name=long), SERVER)

    full = f"{long}-candidate-0-classifier"
    assert planned.deployment is not None
    assert (
        planned.deployment["metadata"]["name"] == f"seldon-{hashlib.md5(full.encode()).hexdigest()}"
    )


def test_the_storage_initializer_fetches_the_model_uri_into_the_models_volume() -> None:
    (planned,) = plan(_sdep(_predictor("baseline")), SERVER)

    assert planned.deployment is not None
    pod = planned.deployment["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    (server,) = pod["containers"]
    assert init["name"] == "classifier-model-initializer"
    assert init["args"] == [URI, "/mnt/models"]
    assert init["envFrom"] == [{"secretRef": {"name": "seldon-init-container-secret"}}]
    assert pod["volumes"] == [{"name": "classifier-provision-location", "emptyDir": {}}]
    assert init["volumeMounts"] == [
        {"name": "classifier-provision-location", "mountPath": "/mnt/models"}
    ]
    assert server["volumeMounts"][0]["readOnly"] is True
    assert (
        _env(server).items()
        >= {
            "MLSERVER_MODEL_IMPLEMENTATION": "mlserver_mlflow.MLflowRuntime",
            "MLSERVER_MODEL_NAME": "classifier",
            "MLSERVER_MODEL_URI": "/mnt/models",
            "MLSERVER_HTTP_PORT": "9000",
            "MLSERVER_GRPC_PORT": "9500",
        }.items()
    )
    assert server["readinessProbe"]["httpGet"]["path"] == "/v2/health/ready"


def test_a_graph_names_its_own_secret() -> None:
    predictor = _predictor("baseline")
    predictor["graph"]["envSecretRefName"] = "team-a-s3"
    (planned,) = plan(_sdep(predictor), SERVER)

    assert planned.deployment is not None
    init = planned.deployment["spec"]["template"]["spec"]["initContainers"][0]
    assert init["envFrom"] == [{"secretRef": {"name": "team-a-s3"}}]


def test_the_initializers_command_fetches_as_kserves_storage_initializer(tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.mkdir()
    (source / "MLmodel").write_text("flavors: {}")
    into = tmp_path / "mnt-models"

    subprocess.run([sys.executable, "-c", INITIALIZE, str(source), str(into)], check=True)

    assert (into / "MLmodel").read_text() == "flavors: {}"


def test_a_registry_uri_is_refused_and_the_status_says_why() -> None:
    sdep = _sdep(_predictor("baseline"), _predictor("candidate", uri="models:/churn/2"))
    baseline, candidate = plan(sdep, SERVER)

    assert candidate.deployment is None
    assert candidate.refused is not None
    assert "models:/" in candidate.refused
    assert "candidate" in candidate.refused
    written = status(sdep, [baseline, candidate], {})
    assert written["state"] == "Failed"
    assert written["conditions"][0]["reason"] == "PredictorRefused"
    assert "registry URI" in written["description"]
    assert list(written["deploymentStatus"]) == ["churn-baseline-0-classifier"]


def test_an_implementation_without_a_model_server_is_refused() -> None:
    predictor = _predictor("baseline")
    predictor["graph"]["implementation"] = "TENSORFLOW_SERVER"
    (planned,) = plan(_sdep(predictor), SERVER)

    assert planned.refused is not None
    assert "TENSORFLOW_SERVER" in planned.refused


def test_the_status_is_creating_until_every_deployment_is_available() -> None:
    sdep = _sdep(_predictor("baseline"), _predictor("shadow", shadow=True))
    planned = plan(sdep, SERVER)
    names = [p.deployment["metadata"]["name"] for p in planned if p.deployment]

    creating = status(sdep, planned, {names[0]: Observed(available=1)})
    available = status(sdep, planned, {name: Observed(available=1) for name in names})

    assert creating["state"] == "Creating"
    assert creating["deploymentStatus"][names[1]]["availableReplicas"] == 0
    assert available["state"] == "Available"
    assert available["conditions"][0]["status"] == "True"
    assert available["serviceStatus"]["churn-shadow-classifier"]["httpEndpoint"] == (
        "churn-shadow-classifier.team-a:9000"
    )
    shadow = planned[1].deployment
    assert shadow is not None
    assert shadow["metadata"]["labels"]["seldon.io/shadow"] == "true"


def test_a_failed_storage_initializer_fails_the_deployment_with_its_words() -> None:
    sdep = _sdep(_predictor("baseline"))
    planned = plan(sdep, SERVER)
    failure = "the storage initializer failed: NoSuchKey"

    written = status(sdep, planned, {"churn-baseline-0-classifier": Observed(0, failure)})

    assert written["state"] == "Failed"
    assert written["conditions"][0]["reason"] == "StorageInitializerFailed"
    assert "NoSuchKey" in written["description"]


def test_the_executor_reaches_a_predictors_model_server_through_its_service() -> None:
    assert model_endpoint("team-a", "churn", "baseline", "classifier") == (
        "http://churn-baseline-classifier.team-a.svc:9000/v2/models/classifier/infer"
    )


def test_an_xgboost_server_runs_mlservers_xgboost_runtime() -> None:
    predictor = _predictor("baseline")
    predictor["graph"]["implementation"] = "XGBOOST_SERVER"
    (planned,) = plan(_sdep(predictor), SERVER)

    assert planned.refused is None
    assert planned.deployment is not None
    (server,) = planned.deployment["spec"]["template"]["spec"]["containers"]
    assert _env(server)["MLSERVER_MODEL_IMPLEMENTATION"] == "mlserver_xgboost.XGBoostModel"
