"""How a read lays stored values out: a plan per request, a layout per list of requests.

Reads build no object per value but the values themselves, into a columnar `OnlineFeatures`.
An entity row whose values are all present and fresh, for requests of whole views (the usual
case), decodes in one go (`WholeRow`); any other row decodes view by view, each (entity, view)
straight into its row's values, its statuses extended with the core's verdict on the value's
age (`ServingRule`). Ages are compared as integer microseconds, and each distinct event time
becomes a datetime once per read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any, Final, cast

from paved.adapters.online.redis.codec import JOINED, TIMESTAMP_DIGITS, Codec, Decoder, WholeRow
from paved.adapters.online.redis.keys import entity_key_of, version_prefix
from paved.core.feature_views import ViewDefinition
from paved.core.online_values import ServingRule, ValueStatus
from paved.ports.online import EntityRow, OnlineFeatures, OnlineRequest

EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """What one request adds to each entity row of a result, made once per view and features."""

    view: ViewDefinition  # what the plan was made from: a plan serves only an equal view
    features: tuple[str, ...]  # as requested
    prefix: str
    codec: Codec
    whole_view: bool  # every feature of the view, in its order
    decode: Decoder
    rule: ServingRule
    outputs: tuple[str, ...]  # `view__feature`, in request order
    nones: tuple[None, ...]

    @classmethod
    def of(cls, request: OnlineRequest) -> ReadPlan:
        view = request.view
        rule = ServingRule.of(view, request.features)  # KeyError for a feature it lacks
        position_of = {name: position for position, name in enumerate(view.feature_names)}
        positions = [position_of[name] for name in request.features]
        codec = Codec.of(view)
        return cls(
            view=view,
            features=request.features,
            prefix=version_prefix(view),
            codec=codec,
            whole_view=positions == list(range(len(view.features))),
            decode=codec.decoder(positions),
            rule=rule,
            outputs=tuple(f"{view.name}__{name}" for name in request.features),
            nones=(None,) * len(request.features),
        )

    def serves(self, request: OnlineRequest) -> bool:
        view, features = request.view, request.features
        return (self.view is view or self.view == view) and (
            self.features is features or self.features == features
        )


@dataclass(frozen=True, slots=True)
class Layout:
    """The plans of one list of requests, the columns and views of their results, and their keys."""

    plans: tuple[ReadPlan, ...]
    columns: tuple[str, ...]
    views: tuple[str, ...]
    join_keys: tuple[tuple[str, ...], ...]  # each distinct list of join keys of the plans
    key_parts: tuple[tuple[str, int], ...]  # per plan: its key prefix, its index in join_keys
    whole: WholeRow | None  # when every plan requests its whole view
    fresh_limits_us: tuple[int, ...]  # per plan: the oldest a value may be to decode whole
    present: tuple[ValueStatus, ...]  # every column present

    @classmethod
    def of(cls, plans: tuple[ReadPlan, ...]) -> Layout:
        join_keys = tuple(dict.fromkeys(plan.view.join_keys for plan in plans))
        columns = tuple(chain.from_iterable(plan.outputs for plan in plans))
        whole_views = all(plan.whole_view for plan in plans)
        return cls(
            plans=plans,
            columns=columns,
            views=tuple(plan.view.name for plan in plans),
            join_keys=join_keys,
            key_parts=tuple((plan.prefix, join_keys.index(plan.view.join_keys)) for plan in plans),
            whole=WholeRow.of([plan.codec for plan in plans]) if whole_views else None,
            fresh_limits_us=tuple(plan.rule.fresh_limit_us for plan in plans),
            present=(ValueStatus.PRESENT,) * len(columns),
        )

    def keys(self, entity_rows: Sequence[EntityRow]) -> list[str]:
        """Every plan's key for every entity row, row by row: a row's values come back together."""
        entities = [[entity_key_of(row, keys) for keys in self.join_keys] for row in entity_rows]
        return [prefix + entity[keys] for entity in entities for prefix, keys in self.key_parts]

    def empty(self, rows: int) -> OnlineFeatures:
        """The result of a read of no requests, or of no entity rows."""
        return OnlineFeatures(
            columns=self.columns,
            values=[[] for _ in range(rows)],
            statuses=[[] for _ in range(rows)],
            event_timestamps=[[] for _ in range(rows)],
            views=self.views,
        )


def fill(layout: Layout, stored: Sequence[bytes | None], now_us: int) -> OnlineFeatures:
    """Lay the stored values out row by row, judged by their age at `now_us`."""
    width = len(layout.plans)
    all_values: list[list[Any]] = []
    all_statuses: list[list[ValueStatus]] = []
    all_stamps: list[list[dt.datetime | None]] = []
    # Values often share an event time (a row's views, a batch's entities): parse each once.
    events: dict[bytes, tuple[int, dt.datetime]] = {}
    for start in range(0, len(stored), width):
        raws = stored[start : start + width]
        stamps: list[dt.datetime | None] = []
        ages: list[int | None] = []
        all_fresh = layout.whole is not None
        for limit_us, raw in zip(layout.fresh_limits_us, raws, strict=True):
            if raw is None:
                stamps.append(None)
                ages.append(None)
                all_fresh = False
                continue
            digits = raw[:TIMESTAMP_DIGITS]
            event = events.get(digits)
            if event is None:
                event_us = int(digits)
                event = events[digits] = (event_us, EPOCH + dt.timedelta(microseconds=event_us))
            stamps.append(event[1])
            age_us = now_us - event[0]
            ages.append(age_us)
            if age_us > limit_us or raw[TIMESTAMP_DIGITS] != JOINED:
                all_fresh = False
        all_stamps.append(stamps)
        if all_fresh and layout.whole is not None:
            all_values.append(layout.whole.decode(cast(list[bytes], raws)))
            all_statuses.append(list(layout.present))
        else:
            values, statuses = _row_by_view(layout.plans, raws, ages)
            all_values.append(values)
            all_statuses.append(statuses)
    return OnlineFeatures(layout.columns, all_values, all_statuses, all_stamps, layout.views)


def _row_by_view(
    plans: Sequence[ReadPlan], raws: Sequence[bytes | None], ages: Sequence[int | None]
) -> tuple[list[Any], list[ValueStatus]]:
    """One entity row, decoded view by view, each value as the core judges it by its age."""
    values: list[Any] = []
    statuses: list[ValueStatus] = []
    for plan, raw, age in zip(plans, raws, ages, strict=True):
        if raw is None or age is None:
            values += plan.nones
            statuses += plan.rule.not_found.statuses
            continue
        verdict = plan.rule.judge(age)
        statuses += verdict.statuses
        if not verdict.served:
            values += plan.nones
            continue
        first = len(values)
        plan.decode(values, raw)
        for index in verdict.nulled:
            values[first + index] = None
    return values, statuses
