"""Load the examples' data: the user activity the FeatureView reads and the churn labels the
ModelVersion trains on, written under the operator's data root for one namespace, and the
baseline model the SeldonDeployment serves, put on the object store.

Run by job.yaml in the image that has paved's demo data generator (the data plane's); by hand:
    DATA_ROOT=/data NAMESPACE=default BASELINE_URI=s3://paved/models/churn/baseline python load.py
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import duckdb
import mlflow.sklearn
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from paved_local.demo.data import generate

NUMERIC = ["clicks_7d", "sessions_7d", "tenure_days"]


def baseline(root: Path) -> object:
    """A plain model on each user's latest activity: the one the first Rollout improves on."""
    rows = duckdb.sql(
        f"""
        select a.*, l.churned from read_parquet('{root}/user_activity/*.parquet') a
        join read_parquet('{root}/churn_labels.parquet') l using (user_id)
        qualify row_number() over (partition by a.user_id order by a.event_timestamp desc) = 1
        """
    ).df()
    features = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), ["country"]), ("passthrough", NUMERIC)
    )
    model = make_pipeline(features, LogisticRegression(max_iter=500))
    return model.fit(rows[[*NUMERIC, "country"]], rows["churned"])


def upload(directory: Path, uri: str) -> None:
    """Every file under `directory` to the s3:// `uri`, as a storage initializer will fetch it."""
    parts = urlsplit(uri)
    bucket = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        key = f"{parts.path.strip('/')}/{path.relative_to(directory)}"
        bucket.upload_file(str(path), parts.netloc, key)


def main() -> None:
    root = Path(os.environ["DATA_ROOT"]) / os.environ["NAMESPACE"] / "data"
    world = generate(root, dt.datetime.now(dt.UTC))
    # Where 01-featureview.yaml reads it (the demo's generator names it `activity`).
    shutil.rmtree(root / "user_activity", ignore_errors=True)
    (root / world.activity.split("/")[0]).replace(root / "user_activity")
    print(f"{world.activity_rows} activity rows, {world.label_rows} labels under {root}")
    with tempfile.TemporaryDirectory() as scratch:
        model = Path(scratch) / "model"
        # Served by MLServer's MLflow runtime, which calls the pyfunc flavour: a probability.
        mlflow.sklearn.save_model(baseline(root), str(model), pyfunc_predict_fn="predict_proba")
        upload(model, os.environ["BASELINE_URI"])
    print(f"baseline model at {os.environ['BASELINE_URI']}")


if __name__ == "__main__":
    main()
