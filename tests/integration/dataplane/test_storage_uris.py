"""Models are where a real storage initializer finds them: a registered version resolves to an
s3:// URI in the platform's object store, `kserve-storage` (KServe's storage initializer) fetches
its bytes from there, and a URI no storage initializer can fetch (`models:/`) is refused on the
serving object's status, as a real deployment's init container would fail."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import boto3
import mlflow
import numpy as np
from kserve_storage import Storage
from sklearn.linear_model import LogisticRegression

from paved.adapters.registry.mlflow import MlflowRegistry
from paved_local.object_store import BUCKET
from paved_local.platform import Endpoints
from tests.integration.dataplane.test_local_dataplane import _deploy, _predictor
from tests.integration.dataplane.test_local_kserve import _serve
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for


def test_a_registered_version_is_an_s3_uri_whose_bytes_kserve_storage_fetches(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    mlflow.set_tracking_uri(endpoints.mlflow)
    x = np.linspace(-3, 3, 60).reshape(-1, 1)
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(LogisticRegression().fit(x, x[:, 0] > 0), name="model")
    model = f"t-{uuid.uuid4().hex[:8]}.churn"
    version = asyncio.run(
        MlflowRegistry(endpoints.mlflow).register(model, run.info.run_id, "k", {})
    )

    assert version.uri.startswith(f"s3://{BUCKET}/")
    fetched = Path(Storage.download(version.uri, str(tmp_path / "mnt-models")))
    files = {p.relative_to(fetched).as_posix(): p.read_bytes() for p in fetched.rglob("*")}
    prefix = version.uri.removeprefix(f"s3://{BUCKET}/") + "/"
    s3 = boto3.client("s3", endpoint_url=endpoints.storage["AWS_ENDPOINT_URL"])
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    stored = {
        o["Key"].removeprefix(prefix): s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read()
        for o in listed
    }
    assert "MLmodel" in stored
    assert {k: v for k, v in files.items() if k in stored} == stored  # the same bytes
    loaded = mlflow.sklearn.load_model(str(fetched))
    assert list(loaded.predict([[-2.0], [2.0]])) == [False, True]


def _status(kubectl: Kubectl, kind: str, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = kubectl.get_json(kind, "churn", "-n", namespace).get("status") or {}
    return found


def test_a_models_uri_is_refused_on_the_serving_objects_status(
    kubectl: Kubectl, namespace: str, paved_crds: None
) -> None:
    registry_uri = "models:/ml.churn/2"
    _deploy(kubectl, namespace, "churn", [_predictor("baseline", registry_uri, 100)])
    _serve(kubectl, namespace, registry_uri)

    seldon = wait_for(
        lambda: (
            (s := _status(kubectl, "seldondeployment", namespace)).get("state") == "Failed" and s
        ),
        timeout=60,
        what="the SeldonDeployment's status to say Failed",
    )
    assert "cannot be fetched by a storage initializer" in seldon["description"]
    assert "models:/" in seldon["description"]
    ready = seldon["conditions"][0]
    assert (ready["status"], ready["reason"]) == ("False", "StorageInitializerFailed")
    kserve = wait_for(
        lambda: next(
            (
                c
                for c in _status(kubectl, "inferenceservice", namespace).get("conditions", [])
                if c["type"] == "Ready" and c["status"] == "False" and c["message"]
            ),
            None,
        ),
        timeout=60,
        what="the InferenceService's Ready condition to say why",
    )
    assert kserve["reason"] == "RevisionFailed"
    assert "cannot be fetched by a storage initializer" in kserve["message"]
