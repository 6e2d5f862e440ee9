"""A FeatureStore of one view over one Parquet file, on the local platform's Redis: what the
SDK's integration tests start from."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from paved.api.feature_view import FeatureViewSpec
from paved.features import FeatureStore
from paved.settings import OperatorSettings

NAMESPACE = "test"


def one_view_store(
    root: Path,
    redis_url: str,
    *,
    keys: Sequence[str],
    features: Sequence[Mapping[str, object]],
    source: pa.Table,
    ttl: str = "0s",
    entity: str = "user",
) -> FeatureStore:
    """A store of one FeatureView (a fresh name) keyed by `keys`, event time `ts`, whose source is
    `source` written under `root`'s namespace `test`."""
    folder = f"view-{uuid.uuid4().hex[:6]}"
    spec = FeatureViewSpec.model_validate(
        {
            "entity": {"name": entity, "joinKeys": list(keys)},
            "source": {"path": f"{folder}/*.parquet", "timestampField": "ts"},
            "ttl": ttl,
            "features": list(features),
        }
    )
    directory = root / NAMESPACE / folder
    directory.mkdir(parents=True)
    pq.write_table(source, directory / "part-0.parquet")
    settings = OperatorSettings(data_root=str(root), redis_url=redis_url)
    return FeatureStore.from_specs({folder: spec}, settings, namespace=NAMESPACE)
