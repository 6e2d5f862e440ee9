"""The platform's object store: `rclone serve s3` over a directory, on loopback, with credentials
generated once and kept in the platform's directory.

MLflow's artifact root is a bucket here (`s3://paved/mlflow`), and clients write and read it
directly, as they do against S3 on a cluster: so a registry version's files live at an `s3://`
URI that KServe's and Seldon's storage initializers fetch. Every process that touches models
(MLflow's clients, the operator, its training runs, the data plane, the tests) gets
`environment()`: the endpoint, the keys and the region, under the names boto3, MLflow and
`kserve-storage` read.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Final

BUCKET: Final = "paved"
ARTIFACT_ROOT: Final = f"s3://{BUCKET}/mlflow"
# rclone accepts any region; boto3 needs one to sign with.
REGION: Final = "us-east-1"


@dataclass(frozen=True)
class ObjectStore:
    endpoint: str  # http://127.0.0.1:<port>
    access_key: str
    secret_key: str

    def environment(self) -> dict[str, str]:
        """What a client needs to reach the store: MLflow reads `MLFLOW_S3_ENDPOINT_URL`, boto3
        and `kserve-storage` `AWS_ENDPOINT_URL`."""
        return {
            "MLFLOW_S3_ENDPOINT_URL": self.endpoint,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
        }


def directory(platform: Path) -> Path:
    return platform / "object-store"


def data(platform: Path) -> Path:
    """Where the buckets are: one directory each."""
    return directory(platform) / "data"


def object_store(platform: Path, endpoint: str) -> ObjectStore:
    """The store at `endpoint` with the platform's keys, generated on first use (mode 0600): a
    restart keeps them, so clients configured once stay valid."""
    path = directory(platform) / "credentials.json"
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        keys = {"accessKey": f"paved-{secrets.token_hex(6)}", "secretKey": secrets.token_hex(24)}
        temporary = path.with_suffix(".tmp")
        temporary.touch(mode=0o600)
        temporary.write_text(json.dumps(keys))
        temporary.replace(path)
    keys = json.loads(path.read_text())
    return ObjectStore(endpoint, keys["accessKey"], keys["secretKey"])
