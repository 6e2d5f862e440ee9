"""The feature store SDK: historical (point-in-time) and online features, push, skew checks.

    store = FeatureStore.from_cluster(namespace="team-a")
    training = store.get_historical_features(entity_df, ["user-activity-v1:clicks_7d"]).to_df()
    online = store.get_online_features(
        features=["user-activity-v1:clicks_7d"], entity_rows=[{"user_id": 42}]
    ).to_dict()

A reference is `<FeatureView name>:<feature>`. The definitions come from the FeatureView objects
(or manifests), so the SDK, the operator and the training pipeline read features the same way.

A store belongs to one namespace, as its FeatureViews do: it reads and writes that namespace's
online values only. The namespace is the one given, else `PAVED_NAMESPACE`, else `default`.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pyarrow as pa
import yaml

from paved.adapters.offline.parquet import source_key_types
from paved.api.batch_prediction import BatchPredictionSpec, BatchPredictionStatus
from paved.api.feature_view import DataType, FeatureViewSpec
from paved.api.meta import parse_duration
from paved.assembly import offline_engine, online_store
from paved.core.batch_predictions import served_view
from paved.core.entity_keys import KeyType, normalised_rows
from paved.core.feature_views import ViewDefinition, view_definition
from paved.core.point_in_time import output_feature_names
from paved.frames import HistoricalFeatures, OnlineResponse, entity_table, online_entity_rows
from paved.ports.columns import ARROW_TYPES, UTC_MICROS
from paved.ports.offline import FeatureRequest, JoinOptions, OfflineEngine
from paved.ports.online import OnlineRequest, OnlineStore
from paved.services.materialization import MaterializationReport, Watermarks, materialize
from paved.settings import OperatorSettings

NAMESPACE_VARIABLE = "PAVED_NAMESPACE"
DEFAULT_NAMESPACE = "default"


def store_namespace(namespace: str | None = None) -> str:
    """The namespace a store serves: `namespace`, else PAVED_NAMESPACE, else `default`."""
    return namespace or os.environ.get(NAMESPACE_VARIABLE) or DEFAULT_NAMESPACE


@dataclass(frozen=True)
class Mismatch:
    entity: dict[str, Any]
    feature: str
    online: Any
    offline: Any


@dataclass(frozen=True)
class SkewReport:
    """Online values compared with what the offline join returns as of the same moment."""

    view: str
    entities: int
    compared: int
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def mismatch_rate(self) -> float:
        return len(self.mismatches) / self.compared if self.compared else 0.0


def _parse_refs(refs: Iterable[str]) -> dict[str, list[str]]:
    if isinstance(refs, str):
        raise TypeError(f"features must be a list of <view>:<feature> references, not {refs!r}")
    by_view: dict[str, list[str]] = {}
    for ref in refs:
        view, separator, feature = ref.partition(":")
        if not separator or not view or not feature:
            raise ValueError(f"feature reference {ref!r} is not of the form <view>:<feature>")
        by_view.setdefault(view, []).append(feature)
    return by_view


def _are_refs(value: object) -> bool:
    return isinstance(value, list | tuple) and bool(value) and isinstance(value[0], str)


def _values_equal(online: Any, offline: Any) -> bool:
    if isinstance(online, float) and isinstance(offline, float):
        return abs(online - offline) <= 1e-9 * max(1.0, abs(offline))
    return bool(online == offline)


class FeatureStore:
    def __init__(
        self,
        views: Mapping[str, ViewDefinition],
        offline: OfflineEngine,
        online: OnlineStore,
        lateness: Mapping[str, dt.timedelta] | None = None,
    ) -> None:
        namespaces = {view.namespace for view in views.values()}
        if len(namespaces) > 1:
            raise ValueError(f"a store serves one namespace; its views are of {sorted(namespaces)}")
        self._namespace = namespaces.pop() if namespaces else store_namespace()
        self._views = dict(views)
        self._offline = offline
        self._online = online
        self._lateness = dict(lateness or {})
        self._keys_of: dict[str, dict[str, KeyType] | None] = {}

    @property
    def namespace(self) -> str:
        return self._namespace

    @classmethod
    def from_specs(
        cls,
        specs: Mapping[str, FeatureViewSpec],
        settings: OperatorSettings | None = None,
        namespace: str | None = None,
    ) -> FeatureStore:
        """A store of the FeatureViews `specs` of `namespace` (see `store_namespace`). Sources
        resolve under `<data root>/<namespace>/` as the operator's do; none may leave it
        (PathOutsideDataRootError)."""
        settings = settings or OperatorSettings()
        namespace = store_namespace(namespace)
        views = {
            name: view_definition(name, s, settings.data_root, namespace=namespace)
            for name, s in specs.items()
        }
        lateness = {
            name: parse_duration(s.materialization.allowed_lateness) for name, s in specs.items()
        }
        return cls(views, offline_engine(settings), online_store(settings), lateness)

    @classmethod
    def from_manifests(
        cls,
        paths: Iterable[Path],
        settings: OperatorSettings | None = None,
        namespace: str | None = None,
    ) -> FeatureStore:
        """The FeatureViews of manifests, in `namespace`; a manifest that names another
        namespace is refused: its online values are not this store's to read or write."""
        namespace = store_namespace(namespace)
        specs = {}
        for path in paths:
            for document in yaml.safe_load_all(path.read_text()):
                if document and document.get("kind") == "FeatureView":
                    name = document["metadata"]["name"]
                    declared = document["metadata"].get("namespace", namespace)
                    if declared != namespace:
                        raise ValueError(
                            f"{path}: FeatureView {declared}/{name} is not in namespace "
                            f"{namespace}; pass namespace={declared!r} (or set "
                            f"{NAMESPACE_VARIABLE}) to read it"
                        )
                    specs[name] = FeatureViewSpec.model_validate(document["spec"])
        return cls.from_specs(specs, settings, namespace)

    @classmethod
    def from_cluster(
        cls, namespace: str | None = None, settings: OperatorSettings | None = None
    ) -> FeatureStore:
        """The FeatureViews of `namespace` (see `store_namespace`), as the cluster has them."""
        from kubernetes import client

        from paved.adapters.kubernetes_api import api_client

        settings = settings or OperatorSettings()
        namespace = store_namespace(namespace)
        objects = client.CustomObjectsApi(api_client(settings.kubeconfig))
        listed = objects.list_namespaced_custom_object(
            "paved.dev", "v1alpha1", namespace, "featureviews"
        )
        specs = {
            item["metadata"]["name"]: FeatureViewSpec.model_validate(item["spec"])
            for item in listed["items"]
        }
        store = cls.from_specs(specs, settings, namespace)
        try:
            predictions = objects.list_namespaced_custom_object(
                "paved.dev", "v1alpha1", namespace, "batchpredictions"
            )
        except client.ApiException as error:
            if error.status != 404:  # a cluster without the BatchPrediction CRD has none
                raise
            return store
        return store.with_predictions(predictions["items"], settings.data_root)

    def with_predictions(
        self, objects: Iterable[Mapping[str, Any]], data_root: str
    ) -> FeatureStore:
        """This store, plus the served prediction view of each BatchPrediction (as its status
        names it), read as `<BatchPrediction>:score` and `<BatchPrediction>:model_version`."""
        views = dict(self._views)
        for item in objects:
            name = item["metadata"]["name"]
            spec = BatchPredictionSpec.model_validate(item["spec"])
            status = BatchPredictionStatus.model_validate(item.get("status") or {})
            entities = views.get(spec.entities.feature_view)
            if entities is None:
                continue  # not scored until its FeatureView exists
            view = served_view(name, spec, status, entities=entities, data_root=data_root)
            if view is None:
                continue  # nothing served yet
            if name in self._views:
                raise ValueError(f"BatchPrediction {name} and FeatureView {name} share a name")
            views[name] = view
        return FeatureStore(views, self._offline, self._online, self._lateness)

    @property
    def view_names(self) -> list[str]:
        return sorted(self._views)

    def view(self, name: str) -> ViewDefinition:
        try:
            return self._views[name]
        except KeyError:
            known = ", ".join(sorted(self._views)) or "none"
            raise KeyError(f"no FeatureView {name!r} (known: {known})") from None

    def get_historical_features(
        self,
        entity_df: object,
        features: Sequence[str],
        *,
        entity_timestamp_column: str = "event_timestamp",
        created_cutoff: bool | None = None,
        full_feature_names: bool = False,
    ) -> HistoricalFeatures:
        """Point-in-time correct features for every entity row (training sets).

        `entity_df`: a pandas or Polars DataFrame, a pyarrow Table or a list of dicts, with the
        join keys and `entity_timestamp_column` (UTC-aware). The result gives the rows as they
        came plus the features through `.to_pandas()` (`.to_df()`), `.to_arrow()` or
        `.to_polars()`. `created_cutoff`: True or False for every view of the call; by default
        each view's `spec.pointInTime.createdCutoff` (on unless the view turns it off).
        """
        entity_rows = entity_table(entity_df, "entity_df")
        requests = [
            FeatureRequest(self.view(view), tuple(names))
            for view, names in _parse_refs(features).items()
        ]
        options = JoinOptions(entity_timestamp_column, created_cutoff, full_feature_names)
        return HistoricalFeatures(self._offline.historical_features(entity_rows, requests, options))

    def get_online_features(
        self,
        features: object,
        entity_rows: object,
        now: dt.datetime | None = None,
        *,
        full_feature_names: bool = False,
    ) -> OnlineResponse:
        """The latest values per entity, as Feast's call: `get_online_features(features=[...],
        entity_rows=[{...}]).to_dict()`; `now` (what ttl and freshness are judged against)
        defaults to the clock.

        `entity_rows`: a list of dicts, a dict of columns, or a DataFrame; join keys as int or
        str (numpy's scalars become them), of the type the view's source keys by, or a
        TypeError names the entity and the type. The result is columnar (`.columns`,
        `.values`, `.statuses`, `.row(i)`: one `view__feature` column per reference, grouped
        by view), and `.to_dict()`, `.to_df()`, `.to_arrow()` as Feast's.
        """
        if _are_refs(entity_rows) and not _are_refs(features):  # the earlier order: (rows, refs)
            features, entity_rows = entity_rows, features
        requests = [
            OnlineRequest(self.view(view), tuple(names))
            for view, names in _parse_refs(cast(Sequence[str], features)).items()
        ]
        views = [request.view for request in requests]
        rows = normalised_rows(online_entity_rows(entity_rows), views, self._key_types(views))
        if not full_feature_names:
            output_feature_names([(r.view, r.features) for r in requests], False)
        result = self._online.read(rows, requests, now or dt.datetime.now(dt.UTC))
        join_keys = tuple(dict.fromkeys(key for view in views for key in view.join_keys))
        return OnlineResponse(
            columns=result.columns,
            values=result.values,
            statuses=result.statuses,
            event_timestamps=result.event_timestamps,
            views=result.views,
            entity_rows=rows,
            join_keys=join_keys,
            full_feature_names=full_feature_names,
        )

    def _key_types(self, views: Iterable[ViewDefinition]) -> dict[tuple[str, str], KeyType]:
        """Each view's join key types, read from its source's files once per store."""
        known: dict[tuple[str, str], KeyType] = {}
        for view in views:
            if view.name not in self._keys_of:
                self._keys_of[view.name] = source_key_types(view)
            known |= {(view.name, k): t for k, t in (self._keys_of[view.name] or {}).items()}
        return known

    def push(self, view_name: str, rows: object, now: dt.datetime) -> int:
        """Write rows (any table `entity_table` takes) offline first (durable), then online;
        return rows that went online."""
        view = self.view(view_name)
        table = entity_table(rows, "rows")
        created = view.created_timestamp_field
        if created is not None and created not in table.column_names:
            stamp = pa.array([now] * table.num_rows, pa.timestamp("us", tz="UTC"))
            table = table.append_column(created, stamp)
        self._offline.append(view, table)
        return self._online.write(view, table).written

    def materialize(
        self,
        view_name: str,
        since: Watermarks | None = None,
        on_batch: Callable[[int], None] | None = None,
        *,
        as_of: dt.datetime | None = None,
        now: dt.datetime | None = None,
    ) -> MaterializationReport:
        """Copy what changed since `since` (everything by default) online; with `as_of`, only
        rows that existed then (a backfill: each entity's latest row as of `as_of`).

        The report counts the rows already past the view's ttl at `now` (the clock by
        default) as `expired`: the store holds them, but no read serves them."""
        view = self.view(view_name)
        lateness = self._lateness.get(view_name, dt.timedelta(hours=1))
        return materialize(
            view,
            self._offline,
            self._online,
            since or Watermarks(),
            lateness,
            on_batch=on_batch,
            now=now or dt.datetime.now(dt.UTC),
            until=as_of,
        )

    def materialize_incremental(
        self, end_date: dt.datetime, feature_views: Sequence[str] | None = None
    ) -> dict[str, MaterializationReport]:
        """Feast's call: every view's (or `feature_views`') latest rows as of `end_date` online.
        A store keeps no watermarks of its own: each call offers every row again, and the
        online store keeps only newer values (the operator materializes incrementally)."""
        if end_date.tzinfo is None:
            raise ValueError(f"end_date {end_date} needs a time zone (paved never guesses one)")
        names = self.view_names if feature_views is None else list(feature_views)
        return {name: self.materialize(name, as_of=end_date) for name in names}

    def skew_check(self, view_name: str, entities: object, now: dt.datetime) -> SkewReport:
        """Compare online values for `entities` (any table `entity_table` takes) with the
        offline join as of `now`."""
        view = self.view(view_name)
        keys = entity_table(entities, "entities").select(list(view.join_keys))
        as_of = keys.append_column(
            "__as_of", pa.array([now] * keys.num_rows, pa.timestamp("us", tz="UTC"))
        )
        offline = self._offline.historical_features(
            as_of,
            [FeatureRequest(view, view.feature_names)],
            JoinOptions("__as_of", created_cutoff=True, full_feature_names=True),
        )
        rows = keys.to_pylist()
        online = self._online.read(rows, [OnlineRequest(view, view.feature_names)], now)
        mismatches = []
        for index, (entity, online_values) in enumerate(zip(rows, online.values, strict=True)):
            for feature, online_value in zip(view.feature_names, online_values, strict=True):
                offline_value = offline.column(f"{view.name}__{feature}")[index].as_py()
                if not _values_equal(online_value, offline_value):
                    mismatches.append(Mismatch(entity, feature, online_value, offline_value))
        compared = len(rows) * len(view.features)
        return SkewReport(view.name, len(rows), compared, mismatches)


_TIMESTAMP = UTC_MICROS


def _timestamp(value: Any, column: str) -> dt.datetime:
    try:
        parsed = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError as error:
        raise ValueError(f"{column}: {value!r} is not an ISO 8601 timestamp") from error
    if not isinstance(parsed, dt.datetime) or parsed.tzinfo is None:
        raise ValueError(f"{column}: {value!r} is not a timestamp with a time zone")
    return parsed.astimezone(dt.UTC)


def rows_to_table(view: ViewDefinition, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """JSON-like rows (push endpoint, stream entries) → a table typed as the view declares.

    Timestamps (the view's, and timestamp features) are ISO 8601 strings with a time zone; a
    missing join key, timestamp or non-nullable feature is refused, naming the row and the
    column.
    """
    required = [*view.join_keys, view.timestamp_field]
    required += [f.name for f in view.features if not f.nullable]
    for index, row in enumerate(rows):
        missing = [column for column in required if row.get(column) is None]
        if missing:
            raise ValueError(f"row {index}: missing {', '.join(missing)}")
    columns: dict[str, pa.Array] = {}
    for key in view.join_keys:
        columns[key] = pa.array([row[key] for row in rows])
    timestamps = [view.timestamp_field]
    if view.created_timestamp_field is not None and any(
        view.created_timestamp_field in row for row in rows
    ):
        timestamps.append(view.created_timestamp_field)
    for column in timestamps:
        stamps = [_timestamp(row[column], column) for row in rows]
        columns[column] = pa.array(stamps, _TIMESTAMP)
    for feature in view.features:
        values = [row.get(feature.name) for row in rows]
        if feature.dtype == DataType.TIMESTAMP:
            values = [None if v is None else _timestamp(v, feature.name) for v in values]
        try:
            columns[feature.name] = pa.array(values, ARROW_TYPES[feature.dtype])
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise ValueError(f"{feature.name}: not {feature.dtype.value}: {error}") from error
    return pa.table(columns)


__all__ = ["FeatureStore", "HistoricalFeatures", "Mismatch", "SkewReport", "rows_to_table"]
