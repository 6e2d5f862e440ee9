"""FeatureView definitions as the data plane sees them, their version ids, and freshness.

Pure: no I/O, no clock. A FeatureView's version is a content hash of what defines its data
(entity, source, ttl, features): the same definition always has the same version, and any
change to it is a different version with its own online namespace. A view belongs to its
Kubernetes namespace: two namespaces' views of the same name and definition are two views.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Final

from paved.api.feature_view import DataType, FeatureViewSpec, StalePolicy
from paved.api.meta import parse_duration
from paved.core.conditions import Observation
from paved.core.data_paths import namespace_root, resolve
from paved.core.reasons import FeatureViewReason

VERSION_LENGTH: Final = 12
# The condition a deleted FeatureView reports while its online values cannot be removed yet.
ONLINE_KEYS_REMOVED: Final = FeatureViewReason.ONLINE_KEYS_REMOVED
FIRST_DELETION_RETRY_SECONDS: Final = 5.0
MAX_DELETION_RETRY_SECONDS: Final = 300.0


@dataclass(frozen=True)
class FeatureDefinition:
    name: str
    dtype: DataType
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    freshness: dt.timedelta | None = None


@dataclass(frozen=True)
class ViewDefinition:
    """Everything an offline engine or online store needs to know about one FeatureView version."""

    namespace: str  # the FeatureView's Kubernetes namespace: online keys live under it
    name: str
    version: str
    join_keys: tuple[str, ...]
    source: str  # an absolute path or glob of Parquet files, under data_root
    data_root: str  # the namespace's data root: every file the source matches must be under it
    timestamp_field: str
    created_timestamp_field: str | None
    ttl: dt.timedelta | None  # None: no limit
    features: tuple[FeatureDefinition, ...]
    stale_policy: StalePolicy = StalePolicy.MARK
    entity: str = ""  # what the features describe (spec.entity.name), for messages
    created_cutoff: bool = True  # spec.pointInTime.createdCutoff: joins count rows once written

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.features)

    def feature(self, name: str) -> FeatureDefinition:
        for feature in self.features:
            if feature.name == name:
                return feature
        raise KeyError(f"FeatureView {self.name} has no feature {name!r}")


def view_version(spec: FeatureViewSpec) -> str:
    """Content hash of the fields that define the data; operating knobs do not count."""
    defining = spec.model_dump(
        by_alias=True, mode="json", include={"entity", "source", "ttl", "features"}
    )
    canonical = json.dumps(defining, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:VERSION_LENGTH]


def view_definition(
    name: str, spec: FeatureViewSpec, data_root: str, *, namespace: str
) -> ViewDefinition:
    """The data-plane view of a FeatureView; its source resolves under the namespace's data root
    (`data_root/namespace`), or PathOutsideDataRootError."""
    root = namespace_root(data_root, namespace)
    source = resolve("spec.source.path", spec.source.path, root)
    ttl = parse_duration(spec.ttl)
    return ViewDefinition(
        namespace=namespace,
        name=name,
        version=view_version(spec),
        join_keys=tuple(spec.entity.join_keys),
        source=str(source),
        data_root=str(root),
        timestamp_field=spec.source.timestamp_field,
        created_timestamp_field=spec.source.created_timestamp_field,
        ttl=ttl if ttl > dt.timedelta(0) else None,
        features=tuple(
            FeatureDefinition(
                name=f.name,
                dtype=f.dtype,
                nullable=f.nullable,
                min=f.min,
                max=f.max,
                freshness=parse_duration(f.freshness) if f.freshness else None,
            )
            for f in spec.features
        ),
        stale_policy=spec.online.stale_policy,
        entity=spec.entity.name,
        created_cutoff=spec.point_in_time.created_cutoff,
    )


def deletion_retry_seconds(attempts: int) -> float:
    """How long a deletion waits after `attempts` failed ones: 5 s, doubling, at most 5 min."""
    doublings = min(max(attempts, 0), 10)  # 5 s · 2**10 is past the cap already
    return min(MAX_DELETION_RETRY_SECONDS, FIRST_DELETION_RETRY_SECONDS * 2.0**doublings)


def keys_kept(problem: str, retry_seconds: float) -> Observation:
    """A deleted FeatureView whose online values could not be removed: it stays until they are."""
    return Observation(
        ONLINE_KEYS_REMOVED,
        "False",
        FeatureViewReason.ONLINE_STORE_UNAVAILABLE,
        f"Deleting: the online values of every version stay, and so does this FeatureView, "
        f"until the online store removes them: {problem}; next attempt in {retry_seconds:g} s.",
    )


def keys_removed(count: int) -> Observation:
    return Observation(
        ONLINE_KEYS_REMOVED,
        "True",
        FeatureViewReason.ONLINE_KEYS_REMOVED,
        f"Deleted: {count} online values of every version removed.",
    )
