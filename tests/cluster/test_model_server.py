"""The model server image (MLServer with its MLflow runtime, as Seldon Core v2 and KServe run
it) serves a model paved's libraries saved, a team's LightGBM or XGBoost model through its own
runtime or MLflow's, and carries KServe's storage initializer logic."""

from __future__ import annotations

import contextlib
import json
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest

from paved_local.dataplane.model_servers import scores_of, v2_request
from paved_local.kserve.manifests import RUNTIMES as KSERVE
from paved_local.seldon.manifests import RUNTIMES as SELDON
from tests.support.docker import Image, docker
from tests.support.waiting import wait_for

FEATURES = np.array([[0.0, 1.0], [1.0, 0.0], [0.9, 0.1], [0.1, 0.9]])
LABELS = [0, 1, 1, 0]


def _saved(root: Path, model: Any, **flavour: Any) -> Path:
    """`model` saved as paved's libraries save it, with MLServer's settings, readable by the
    server's uid."""
    import mlflow.sklearn

    models = root / "models"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow cannot tell pip's version in a uv environment
        mlflow.sklearn.save_model(model, models / "model", **flavour)
    return _served_as(models, runtime=MLFLOW, uri="/mnt/models/model")


MLFLOW = "mlserver_mlflow.MLflowRuntime"


def _served_as(models: Path, *, runtime: str, uri: str) -> Path:
    """MLServer's settings for the model under `models`, all readable by the server's uid."""
    settings = {"name": "churn", "implementation": runtime, "parameters": {"uri": uri}}
    (models / "model-settings.json").write_text(json.dumps(settings))
    for path in [models, *models.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # the server runs as uid 10001
    return models


def _inferred(url: str, frame: pd.DataFrame) -> np.ndarray:
    answer = httpx.post(f"{url}/v2/models/churn/infer", json=v2_request(frame), timeout=30)
    assert answer.status_code == 200, answer.text
    return np.array(answer.json()["outputs"][0]["data"], dtype=float)


@contextlib.contextmanager
def _serving(images: dict[str, Image], models: Path) -> Iterator[str]:
    tag = images["model-server"].tag
    mount = f"{models}:/mnt/models:ro"
    container = docker("run", "--detach", "-p", "127.0.0.1::8080", "-v", mount, tag).stdout
    port = docker("port", container.strip(), "8080/tcp").stdout.splitlines()[0].rsplit(":", 1)[1]
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ready(url), timeout=120, what="MLServer to load the model")
        yield url
    finally:
        docker("rm", "--force", container.strip(), check=False)


@pytest.fixture
def model_server(images: dict[str, Image], tmp_path: Path) -> Iterator[str]:
    from sklearn.linear_model import LogisticRegression

    with _serving(images, _saved(tmp_path, LogisticRegression().fit(FEATURES, LABELS))) as url:
        yield url


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/v2/models/churn/ready", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_mlserver_serves_an_mlflow_model_over_the_v2_protocol(model_server: str) -> None:
    request = {
        "parameters": {"content_type": "np"},
        "inputs": [
            {"name": "x", "shape": [2, 2], "datatype": "FP64", "data": [0.95, 0.05, 0.05, 0.95]}
        ],
    }

    answer = httpx.post(f"{model_server}/v2/models/churn/infer", json=request, timeout=30)

    assert answer.status_code == 200, answer.text
    assert answer.json()["outputs"][0]["data"] == [1, 0]


def test_a_multiclass_models_class_probabilities_reach_the_executor_per_row(
    images: dict[str, Image], tmp_path: Path
) -> None:
    """As training registers a classifier (its pyfunc answers `predict_proba`), MLServer answers
    [rows, 3] for three classes, and the executor reads each row's vector from it."""
    from sklearn.linear_model import LogisticRegression

    x = np.linspace(-3, 3, 90).reshape(-1, 1)
    model = LogisticRegression().fit(x, np.digitize(x[:, 0], [-1.0, 1.0]))
    models = _saved(tmp_path, model, pyfunc_predict_fn="predict_proba")
    frame = pd.DataFrame({"x": [-2.5, 0.0, 2.5]})
    with _serving(images, models) as url:
        answer = httpx.post(f"{url}/v2/models/churn/infer", json=v2_request(frame), timeout=30)

    assert answer.status_code == 200, answer.text
    scores = scores_of(answer.json(), rows=3)
    assert scores.names() == ["t:0", "t:1", "t:2"]
    assert np.array(scores.rows()).argmax(axis=1).tolist() == [0, 1, 2]


def _churn_frame() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"clicks": rng.normal(size=200), "tickets": rng.normal(size=200)})
    return frame, (frame["clicks"] - frame["tickets"] > 0).to_numpy(dtype=int)


def test_a_teams_lightgbm_model_is_served_through_mlflows_runtime(
    images: dict[str, Image], tmp_path: Path
) -> None:
    """Saved as the example team pipeline saves it (MLflow's sklearn flavour, cloudpickled, its
    pyfunc answering `predict_proba`): the runtime unpickles a LightGBM estimator, so the image
    must carry LightGBM and the OpenMP runtime it links."""
    import lightgbm

    frame, labels = _churn_frame()
    model = lightgbm.LGBMClassifier(n_estimators=20, verbose=-1).fit(frame, labels)
    models = _saved(
        tmp_path, model, serialization_format="cloudpickle", pyfunc_predict_fn="predict_proba"
    )
    with _serving(images, models) as url:
        served = _inferred(url, frame.head(5))

    expected = model.predict_proba(frame.head(5))
    assert served.reshape(expected.shape) == pytest.approx(expected, abs=1e-6)


def test_a_lightgbm_booster_is_served_by_mlservers_lightgbm_runtime(
    images: dict[str, Image], tmp_path: Path
) -> None:
    """KServe's `lightgbm` model format: a booster file, MLServer's LightGBM runtime."""
    import lightgbm

    frame, labels = _churn_frame()
    booster = lightgbm.train(
        {"objective": "binary", "verbose": -1}, lightgbm.Dataset(frame, labels), 20
    )
    models = tmp_path / "models"
    models.mkdir()
    booster.save_model(str(models / "model.bst"))
    with _serving(images, _served_as(models, runtime=KSERVE["lightgbm"], uri="./model.bst")) as url:
        served = _inferred(url, frame.head(5))

    assert served == pytest.approx(booster.predict(frame.head(5)), abs=1e-6)


def test_an_xgboost_model_is_served_by_mlservers_xgboost_runtime(
    images: dict[str, Image], tmp_path: Path
) -> None:
    """Seldon's XGBOOST_SERVER and KServe's `xgboost` format: a model saved by XGBoost (trained
    in the image, which has XGBoost where the tests do not), served by MLServer's runtime."""
    assert SELDON["XGBOOST_SERVER"] == KSERVE["xgboost"]
    models = tmp_path / "models"
    models.mkdir(mode=0o777)
    models.chmod(0o777)  # the image's uid writes the model here
    train = (
        "import numpy as np, xgboost; x = np.array([[0.0], [1.0], [2.0], [3.0]] * 10); "
        "booster = xgboost.train({'objective': 'binary:logistic'}, "
        "xgboost.DMatrix(x, label=(x[:, 0] > 1.5).astype(int)), 10); "
        "booster.save_model('/mnt/models/model.json')"
    )
    tag = images["model-server"].tag
    mount = f"{models}:/mnt/models"
    docker("run", "--rm", "-v", mount, "--entrypoint", "python", tag, "-c", train)
    served_as = _served_as(models, runtime=KSERVE["xgboost"], uri="./model.json")
    with _serving(images, served_as) as url:
        served = _inferred(url, pd.DataFrame({"x": [0.0, 3.0]}))

    assert served[0] < 0.5 < served[1]


def test_the_model_server_image_fetches_models_as_kserves_storage_initializer(
    images: dict[str, Image],
) -> None:
    fetch = (
        "import os, tempfile; from kserve_storage import Storage; "
        "source = tempfile.mkdtemp(); open(os.path.join(source, 'MLmodel'), 'w').write('x'); "
        "print(sorted(os.listdir(Storage.download(source, tempfile.mkdtemp()))))"
    )
    tag = images["model-server"].tag
    fetched = docker("run", "--rm", "--entrypoint", "python", tag, "-c", fetch).stdout

    assert fetched.strip() == "['MLmodel']"
    assert docker("run", "--rm", "--entrypoint", "id", tag, "-u").stdout.strip() == "10001"


def test_the_data_plane_image_runs_the_data_plane_as_non_root(images: dict[str, Image]) -> None:
    tag = images["dataplane"].tag
    usage = docker("run", "--rm", tag, "--help").stdout

    assert "python -m paved_local.dataplane" in usage
    assert docker("run", "--rm", "--entrypoint", "id", tag, "-u").stdout.strip() == "10001"
