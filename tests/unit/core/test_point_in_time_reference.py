"""The reference point-in-time join, case by case (Feast's table included): the oracle's oracle."""

from __future__ import annotations

import datetime as dt

import pytest

from paved.api.feature_view import DataType
from paved.core.feature_views import FeatureDefinition, ViewDefinition
from paved.core.point_in_time import (
    ViewRows,
    check_entity_columns,
    latest_changed_rows,
    output_feature_names,
    point_in_time_join,
)

DAY = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)


def at(hour: float | dt.datetime) -> dt.datetime:
    return hour if isinstance(hour, dt.datetime) else DAY + dt.timedelta(hours=hour)


def view(
    name: str = "driver_stats",
    ttl: dt.timedelta | None = dt.timedelta(hours=2),
    created: bool = True,
    keys: tuple[str, ...] = ("driver_id",),
    features: tuple[str, ...] = ("trips",),
) -> ViewDefinition:
    return ViewDefinition(
        namespace="test",
        name=name,
        version="0123456789ab",
        join_keys=keys,
        source="/data/driver_stats/*.parquet",
        data_root="/data",
        timestamp_field="event_timestamp",
        created_timestamp_field="created" if created else None,
        ttl=ttl,
        features=tuple(FeatureDefinition(f, DataType.INT64) for f in features),
    )


def row(
    driver: int, event: float | dt.datetime, trips: int | None, created: float | None = None
) -> dict[str, object]:
    """A source row; written when it happened unless `created` (an hour of the day) says later."""
    return {
        "driver_id": driver,
        "event_timestamp": at(event),
        "created": at(event if created is None else created),
        "trips": trips,
    }


def join(
    source: ViewDefinition,
    rows: list[dict[str, object]],
    entities: list[tuple[int | None, float]],
    created_cutoff: bool = True,
) -> list[object]:
    entity_rows = [{"driver_id": d, "event_timestamp": at(h)} for d, h in entities]
    joined = point_in_time_join(
        entity_rows,
        [ViewRows(source, ("trips",), rows)],
        entity_timestamp_column="event_timestamp",
        created_cutoff=created_cutoff,
        full_feature_names=False,
    )
    return [r["trips"] for r in joined]


D1 = [row(1, 9, 90), row(1, 10, 100), row(1, 11, 110)]


@pytest.mark.parametrize(
    ("rows", "entity_hour", "created_cutoff", "expected"),
    [
        # Feast's table (anchors §1.3), one view, ttl 2h.
        pytest.param(D1, 10, True, 100, id="a row stamped exactly at the entity time counts"),
        pytest.param(D1, 9.5, True, 90, id="between rows the earlier one counts"),
        pytest.param(
            [row(1, 8, 200, created=8 + 5 / 60), row(1, 8, 201, created=8 + 10 / 60)],
            9,
            True,
            201,
            id="a tie on event time goes to the later created time",
        ),
        pytest.param([row(1, 9, 90)], 12, True, None, id="a row outside the ttl is null"),
        pytest.param([row(2, 9, 90)], 10, True, None, id="an entity without rows is null"),
        pytest.param([row(1, 11, 110)], 10, True, None, id="only future rows is null"),
        pytest.param(
            [row(1, 9, 600, created=11)], 10, True, None, id="a backfilled row is null with cutoff"
        ),
        pytest.param(
            [row(1, 9, 600, created=11)],
            10,
            False,
            600,
            id="a backfilled row counts without cutoff",
        ),
        # Edges of the same rules.
        pytest.param([row(1, 8, 80)], 10, True, 80, id="a row exactly ttl old counts"),
        pytest.param(
            [row(1, at(8) - MICROSECOND, 80)],
            10,
            True,
            None,
            id="a microsecond past the ttl is null",
        ),
        pytest.param(
            [row(1, 8, 80), row(1, 9, 90, created=10.5)],
            10,
            True,
            80,
            id="with cutoff a row written later gives way to an earlier one",
        ),
        pytest.param(
            [row(1, 9, 90, created=10)],
            10,
            True,
            90,
            id="a row written exactly at the entity time counts",
        ),
        pytest.param(
            [row(1, 9, 90), row(1, 10, None)],
            10,
            True,
            None,
            id="a null value in the chosen row stays null",
        ),
        pytest.param(
            [row(1, 9, 1), row(1, 9, 2)], 10, True, 2, id="a full tie goes to the later source row"
        ),
    ],
)
def test_one_view_one_entity_row(
    rows: list[dict[str, object]], entity_hour: float, created_cutoff: bool, expected: object
) -> None:
    assert join(view(), rows, [(1, entity_hour)], created_cutoff) == [expected]


def test_without_ttl_the_lookback_is_unbounded() -> None:
    assert join(view(ttl=None), [row(1, -24 * 365, 7)], [(1, 10)]) == [7]


def test_without_a_created_field_the_cutoff_has_nothing_to_check() -> None:
    rows = [row(1, 9, 90, created=11)]
    assert join(view(created=False), rows, [(1, 10)], created_cutoff=True) == [90]


def test_every_entity_row_is_kept_in_order_duplicates_and_null_keys_included() -> None:
    entities = [(1, 10), (1, 9.5), (2, 10), (None, 10), (1, 10)]
    assert join(view(), D1, entities) == [100, 90, None, None, 100]


def test_entity_columns_are_kept_and_features_follow_them() -> None:
    entity_rows = [{"driver_id": 1, "event_timestamp": at(10), "label": True}]
    (joined,) = point_in_time_join(
        entity_rows,
        [ViewRows(view(), ("trips",), D1)],
        entity_timestamp_column="event_timestamp",
        created_cutoff=True,
        full_feature_names=False,
    )
    assert list(joined.items()) == [
        ("driver_id", 1),
        ("event_timestamp", at(10)),
        ("label", True),
        ("trips", 100),
    ]


def test_each_view_joins_on_its_own_keys_and_full_names_prefix_the_view() -> None:
    drivers = view("drivers", keys=("driver_id",), features=("trips",))
    routes = view("routes", keys=("driver_id", "route"), features=("trips",))
    route_rows = [{**row(1, 9, 5), "route": "a"}, {**row(1, 9, 6), "route": "b"}]
    entity_rows = [{"driver_id": 1, "route": "b", "ts": at(10)}]
    (joined,) = point_in_time_join(
        entity_rows,
        [ViewRows(drivers, ("trips",), D1), ViewRows(routes, ("trips",), route_rows)],
        entity_timestamp_column="ts",
        created_cutoff=True,
        full_feature_names=True,
    )
    assert (joined["drivers__trips"], joined["routes__trips"]) == (100, 6)


def test_a_feature_name_two_views_share_needs_full_feature_names() -> None:
    requests = [(view("drivers"), ("trips",)), (view("routes"), ("trips",))]
    with pytest.raises(ValueError, match=r"trips.*full_feature_names"):
        output_feature_names(requests, full_feature_names=False)
    assert output_feature_names(requests, full_feature_names=True) == [
        ["drivers__trips"],
        ["routes__trips"],
    ]


def test_a_feature_may_not_overwrite_an_entity_column() -> None:
    with pytest.raises(ValueError, match="overwrite entity columns: trips"):
        output_feature_names([(view(), ("trips",))], False, entity_columns=["driver_id", "trips"])


def test_an_unknown_feature_is_named() -> None:
    with pytest.raises(KeyError, match="speed"):
        output_feature_names([(view(), ("speed",))], False)


def test_entity_rows_must_hold_every_views_keys_and_the_timestamp() -> None:
    routes = view("routes", keys=("driver_id", "route"))
    with pytest.raises(ValueError, match="lack the columns ts, route"):
        check_entity_columns(["driver_id"], [view(), routes], "ts")


@pytest.mark.parametrize(
    ("event_after", "created_after", "expected"),
    [
        pytest.param(None, None, {1: 110, 2: 20}, id="no watermarks: everything"),
        pytest.param(at(10), at(13), {1: 110}, id="only rows after the watermarks"),
        pytest.param(at(12), at(12), {2: 20}, id="a late row with a new created time counts"),
        pytest.param(at(12), None, {1: 110, 2: 20}, id="no created watermark: everything"),
        pytest.param(at(12), at(13), {}, id="nothing newer"),
    ],
)
def test_changed_rows_are_the_latest_per_entity_among_the_newer_rows(
    event_after: dt.datetime | None, created_after: dt.datetime | None, expected: dict[int, int]
) -> None:
    rows = [*D1, row(2, 8, 20, created=12.5), row(2, 7, 19)]
    changed = latest_changed_rows(view(), rows, event_after, created_after=created_after)
    assert {r["driver_id"]: r["trips"] for r in changed} == expected
    assert all(list(r) == ["driver_id", "event_timestamp", "created", "trips"] for r in changed)


def test_changed_rows_without_a_created_field_follow_the_event_watermark_alone() -> None:
    changed = latest_changed_rows(
        view(created=False), [*D1, row(2, 8, 20)], at(9), created_after=None
    )
    assert [(r["driver_id"], r["trips"]) for r in changed] == [(1, 110)]
    assert list(changed[0]) == ["driver_id", "event_timestamp", "trips"]
