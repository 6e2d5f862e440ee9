"""The online store: the latest value of each feature per entity, read in one round trip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from paved.core.feature_views import ViewDefinition
from paved.core.online_values import ValueStatus as ValueStatus  # the rule's vocabulary


@dataclass(frozen=True)
class FeatureValue:
    value: Any
    status: ValueStatus
    event_timestamp: dt.datetime | None


EntityRow = Mapping[str, Any]  # join key → value; each view takes the keys it joins on


@dataclass(frozen=True)
class OnlineRequest:
    view: ViewDefinition
    features: tuple[str, ...]


@dataclass(frozen=True)
class OnlineFeatures:
    """A read's result, columnar: building one object per value would cost more than Redis.

    `values[i][j]` and `statuses[i][j]` are entity row i's value and status of `columns[j]`
    (`view__feature`); `event_timestamps[i][k]` is the event time of the k-th requested view's
    row for entity i (None when not found).
    """

    columns: tuple[str, ...]
    values: list[list[Any]]
    statuses: list[list[ValueStatus]]
    event_timestamps: list[list[dt.datetime | None]]
    views: tuple[str, ...]

    def row(self, index: int) -> dict[str, FeatureValue]:
        """Entity row `index` as `view__feature` → value, status and event time."""
        view_of = {column: column.split("__", 1)[0] for column in self.columns}
        stamps = dict(zip(self.views, self.event_timestamps[index], strict=True))
        return {
            column: FeatureValue(value, status, stamps[view_of[column]])
            for column, value, status in zip(
                self.columns, self.values[index], self.statuses[index], strict=True
            )
        }

    def rows(self) -> list[dict[str, FeatureValue]]:
        return [self.row(i) for i in range(len(self.values))]


@dataclass(frozen=True)
class WriteResult:
    rows: int  # rows offered
    written: int  # rows that were newer than what the store held, and so replaced it


class OnlineStore(Protocol):
    def write(self, view: ViewDefinition, rows: pa.Table | pa.RecordBatch) -> WriteResult:
        """Store each row under (namespace, view version, entity) unless the store holds a newer
        event: views of one name in two namespaces never share an entry.

        Columns: the join keys, the view's timestamp field and its features. Idempotent: writing
        the same rows again changes nothing.
        """
        ...

    def read(
        self,
        entity_rows: Sequence[EntityRow],
        requests: Sequence[OnlineRequest],
        now: dt.datetime,
    ) -> OnlineFeatures:
        """Every entity row's requested features (in order), in one round trip for all of them.

        ttl and each feature's freshness SLO are checked against `now`: a value past them is
        never returned as present.
        """
        ...

    def delete_view(self, view: ViewDefinition) -> int:
        """Remove every entry of this view version; return how many entities were removed."""
        ...

    def delete_all_versions(self, namespace: str, name: str) -> int:
        """Remove every entry of every version of FeatureView `namespace`/`name` (it is gone);
        return how many (version, entity) entries were removed."""
        ...
