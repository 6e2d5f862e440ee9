"""The online store: the latest value of each feature per entity, read in one round trip."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

import pyarrow as pa

from paved.core.feature_views import ViewDefinition


class ValueStatus(StrEnum):
    PRESENT = "present"
    NOT_FOUND = "notFound"  # nothing was ever written for this entity
    EXPIRED = "expired"  # older than the view's ttl: no value is returned
    STALE = "stale"  # older than the feature's freshness SLO: marked, or null by the view's policy


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
class WriteResult:
    rows: int  # rows offered
    written: int  # rows that were newer than what the store held, and so replaced it


class OnlineStore(Protocol):
    def write(self, view: ViewDefinition, rows: pa.Table | pa.RecordBatch) -> WriteResult:
        """Store each row under (view version, entity) unless the store holds a newer event.

        Columns: the join keys, the view's timestamp field and its features. Idempotent: writing
        the same rows again changes nothing.
        """
        ...

    def read(
        self,
        entity_rows: Sequence[EntityRow],
        requests: Sequence[OnlineRequest],
        now: dt.datetime,
    ) -> list[dict[str, FeatureValue]]:
        """Per entity (in order), `view__feature` → value, in one round trip for all of them.

        ttl and each feature's freshness SLO are checked against `now`: a value past them is
        never returned as present.
        """
        ...

    def delete_view(self, view: ViewDefinition) -> int:
        """Remove every entry of this view version; return how many entities were removed."""
        ...
