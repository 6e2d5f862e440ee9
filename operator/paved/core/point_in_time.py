"""The point-in-time join on Python rows: the slow, obviously correct oracle engines must equal.

Pure: no I/O, no clock. Also the request rules every engine shares (output names, required
columns). Ties that event and created time leave open go to the later row in source order (files
by path, then rows in file order).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

from paved.core.feature_views import ViewDefinition

Row = Mapping[str, object]

# Event time, created time, source position: a larger tuple is a later row.
_Recency = tuple[dt.datetime, dt.datetime, int]
_NO_CREATED_TIME = dt.datetime.min.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ViewRows:
    """The requested features of one view and its source rows, in source order."""

    view: ViewDefinition
    features: tuple[str, ...]
    rows: Sequence[Row]


def output_feature_names(
    requests: Sequence[tuple[ViewDefinition, Sequence[str]]],
    full_feature_names: bool,
    entity_columns: Collection[str] = (),
) -> list[list[str]]:
    """The output column of each requested feature, per request; ValueError on any collision."""
    names: list[list[str]] = []
    for view, features in requests:
        for feature in features:
            view.feature(feature)  # KeyError names an unknown feature before any data is read
        names.append([f"{view.name}__{f}" if full_feature_names else f for f in features])
    counts = Counter(name for per_view in names for name in per_view)
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        hint = "" if full_feature_names else "; set full_feature_names to prefix the view name"
        raise ValueError(f"feature names requested more than once: {', '.join(repeated)}{hint}")
    shadowing = sorted(counts.keys() & set(entity_columns))
    if shadowing:
        raise ValueError(f"features would overwrite entity columns: {', '.join(shadowing)}")
    return names


def check_entity_columns(
    columns: Collection[str], views: Iterable[ViewDefinition], timestamp_column: str
) -> None:
    """ValueError unless the entity rows hold the timestamp and every view's join keys."""
    required = [timestamp_column, *(key for view in views for key in view.join_keys)]
    missing = [column for column in dict.fromkeys(required) if column not in columns]
    if missing:
        raise ValueError(f"entity rows lack the columns {', '.join(missing)}")


def point_in_time_join(
    entity_rows: Sequence[Row],
    views: Sequence[ViewRows],
    *,
    entity_timestamp_column: str,
    created_cutoff: bool,
    full_feature_names: bool,
) -> list[dict[str, object]]:
    """Every entity row, in order, with each view's features as of the row's timestamp."""
    if entity_rows:
        check_entity_columns(
            entity_rows[0].keys(), (v.view for v in views), entity_timestamp_column
        )
    names = output_feature_names(
        [(v.view, v.features) for v in views],
        full_feature_names,
        entity_rows[0].keys() if entity_rows else (),
    )
    joined = []
    for entity in entity_rows:
        out = dict(entity)
        for view_rows, view_names in zip(views, names, strict=True):
            match = _as_of(
                view_rows, entity, entity_timestamp_column, created_cutoff=created_cutoff
            )
            for feature, name in zip(view_rows.features, view_names, strict=True):
                out[name] = None if match is None else match[feature]
        joined.append(out)
    return joined


def latest_changed_rows(
    view: ViewDefinition,
    rows: Sequence[Row],
    event_after: dt.datetime | None,
    *,
    created_after: dt.datetime | None,
) -> list[dict[str, object]]:
    """Per entity, the latest of its rows newer than either watermark (None: no watermark)."""
    created = view.created_timestamp_field

    def changed(row: Row) -> bool:
        if event_after is None or _timestamp(row, view.timestamp_field) > event_after:
            return True
        return created is not None and (
            created_after is None or _timestamp(row, created) > created_after
        )

    latest: dict[tuple[object, ...], tuple[_Recency, Row]] = {}
    for position, row in enumerate(rows):
        key = _key(view, row)
        if changed(row) and (key not in latest or _recency(view, row, position) > latest[key][0]):
            latest[key] = (_recency(view, row, position), row)
    columns = [*view.join_keys, view.timestamp_field, *([created] if created else [])]
    columns += view.feature_names
    return [{column: row[column] for column in columns} for _, row in latest.values()]


def _as_of(
    view_rows: ViewRows, entity: Row, timestamp_column: str, *, created_cutoff: bool
) -> Row | None:
    view = view_rows.view
    key = _key(view, entity)
    if entity[timestamp_column] is None or None in key:
        return None
    at = _timestamp(entity, timestamp_column)
    candidates = [
        (_recency(view, row, position), row)
        for position, row in enumerate(view_rows.rows)
        if _key(view, row) == key and _visible(view, row, at, created_cutoff=created_cutoff)
    ]
    return max(candidates, key=lambda candidate: candidate[0])[1] if candidates else None


def _visible(view: ViewDefinition, row: Row, at: dt.datetime, *, created_cutoff: bool) -> bool:
    """Known at `at`: happened by then, within the ttl, and (with the cutoff) written by then."""
    event = _timestamp(row, view.timestamp_field)
    within_ttl = view.ttl is None or event >= at - view.ttl
    created = view.created_timestamp_field
    written = not created_cutoff or created is None or _timestamp(row, created) <= at
    return event <= at and within_ttl and written


def _key(view: ViewDefinition, row: Row) -> tuple[object, ...]:
    return tuple(row[k] for k in view.join_keys)


def _recency(view: ViewDefinition, row: Row, position: int) -> _Recency:
    created = view.created_timestamp_field
    created_time = _timestamp(row, created) if created else _NO_CREATED_TIME
    return (_timestamp(row, view.timestamp_field), created_time, position)


def _timestamp(row: Row, column: str) -> dt.datetime:
    value = row[column]
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise TypeError(f"{column} must be a time-zone-aware datetime, not {value!r}")
    return value
