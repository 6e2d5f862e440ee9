"""RedisOnlineStore against the platform's real Redis: layout, newer-only writes, ttl, freshness.

Reads return `OnlineFeatures`; tests read it through `.row(i)` unless the columnar layout itself
is what they check.
"""

from __future__ import annotations

import datetime as dt
import math
import struct
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from typing import Any

import pyarrow as pa
import pytest
import redis

from paved.adapters.online.redis import RedisOnlineStore
from paved.api.feature_view import DataType, StalePolicy
from paved.core.feature_views import FeatureDefinition, ViewDefinition
from paved.errors import SourceDataError, StoreUnavailableError
from paved.ports.online import FeatureValue, OnlineFeatures, OnlineRequest, ValueStatus, WriteResult
from paved_local import processes
from paved_local.platform import Endpoints

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
# Views with a ttl write keys that Redis expires by its own clock, so their events are recent.
RECENT = dt.datetime.now(dt.UTC)
SECOND = dt.timedelta(seconds=1)
MICROSECOND = dt.timedelta(microseconds=1)
ALL_DTYPES = (
    FeatureDefinition("clicks", DataType.INT64),
    FeatureDefinition("score", DataType.FLOAT64),
    FeatureDefinition("country", DataType.STRING),
    FeatureDefinition("active", DataType.BOOL),
)
_ARROW = {
    DataType.INT64: pa.int64(),
    DataType.FLOAT64: pa.float64(),
    DataType.STRING: pa.string(),
    DataType.BOOL: pa.bool_(),
}

MakeView = Callable[..., ViewDefinition]


@pytest.fixture
def client(endpoints: Endpoints) -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(endpoints.redis, single_connection_client=True)
    yield connection
    connection.close()


@pytest.fixture
def store(client: redis.Redis) -> RedisOnlineStore:
    return RedisOnlineStore(client)


@pytest.fixture
def make_view(store: RedisOnlineStore) -> Iterator[MakeView]:
    """Views with a unique name; their keys are deleted after the test."""
    made: list[ViewDefinition] = []

    def make(
        *,
        namespace: str = "team-a",
        name: str | None = None,
        version: str = "0123456789ab",
        join_keys: tuple[str, ...] = ("user_id",),
        features: tuple[FeatureDefinition, ...] = ALL_DTYPES,
        ttl: dt.timedelta | None = None,
        stale_policy: StalePolicy = StalePolicy.MARK,
    ) -> ViewDefinition:
        view = ViewDefinition(
            namespace=namespace,
            name=name or f"view-{uuid.uuid4().hex[:10]}",
            version=version,
            join_keys=join_keys,
            source="/unused/*.parquet",
            data_root="/unused",
            timestamp_field="event_ts",
            created_timestamp_field=None,
            ttl=ttl,
            features=features,
            stale_policy=stale_policy,
        )
        made.append(view)
        return view

    yield make
    for view in made:
        store.delete_view(view)


def _key(view: ViewDefinition, entity: str) -> str:
    """Where the store keeps an entity's values: under the view's namespace, name and version."""
    return f"pv:{view.namespace}:{view.name}:{view.version}:{entity}"


def rows(
    view: ViewDefinition,
    keys: Mapping[str, Sequence[Any]],
    event_ts: Sequence[dt.datetime],
    **features: Sequence[Any],
) -> pa.Table:
    columns: dict[str, pa.Array] = {name: pa.array(values) for name, values in keys.items()}
    columns["event_ts"] = pa.array(event_ts, pa.timestamp("us", tz="UTC"))
    for feature in view.features:
        values = features.get(feature.name, [None] * len(event_ts))
        columns[feature.name] = pa.array(values, _ARROW[feature.dtype])
    return pa.table(columns)


def read_one(
    store: RedisOnlineStore, view: ViewDefinition, entity: dict[str, Any], now: dt.datetime
) -> dict[str, FeatureValue]:
    (row,) = store.read([entity], [OnlineRequest(view, view.feature_names)], now).rows()
    return row


def test_all_four_dtypes_round_trip_with_nulls_and_keep_their_python_types(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    view = make_view()
    batch = rows(
        view,
        {"user_id": [1, 2]},
        [T0, T0 - SECOND],
        clicks=[7, None],
        score=[0.1, None],
        country=["DE", None],
        active=[False, None],
    ).to_batches()[0]

    assert store.write(view, batch) == WriteResult(rows=2, written=2)

    first = read_one(store, view, {"user_id": 1}, T0)
    values = {name: value.value for name, value in first.items()}
    assert values == {
        f"{view.name}__clicks": 7,
        f"{view.name}__score": 0.1,
        f"{view.name}__country": "DE",
        f"{view.name}__active": False,
    }
    assert [type(value) for value in values.values()] == [int, float, str, bool]
    assert {(v.status, v.event_timestamp) for v in first.values()} == {(ValueStatus.PRESENT, T0)}
    second = read_one(store, view, {"user_id": 2}, T0)
    assert {(v.value, v.status) for v in second.values()} == {(None, ValueStatus.PRESENT)}


def test_edge_values_come_back_exactly(store: RedisOnlineStore, make_view: MakeView) -> None:
    view = make_view()
    edges: dict[str, list[Any]] = {
        "clicks": [-(2**63), 2**63 - 1, 0, None],
        "score": [math.nan, -math.inf, -0.0, 5e-324],
        "country": ["", 'quote " back\\slash\r\n', "Zürich 東京 🚀 \x00 NUL", None],
        "active": [True, None, False, True],
    }
    store.write(view, rows(view, {"user_id": [1, 2, 3, 4]}, [T0] * 4, **edges))

    read = store.read(
        [{"user_id": u} for u in (1, 2, 3, 4)], [OnlineRequest(view, view.feature_names)], T0
    )

    for name, expected in edges.items():
        got = [entity[f"{view.name}__{name}"].value for entity in read.rows()]
        assert [repr(value) for value in got] == [repr(value) for value in expected], name


def test_strings_of_any_script_and_with_nul_inside_come_back_whole_in_any_requested_order(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    features = tuple(FeatureDefinition(name, DataType.STRING) for name in ("a", "b", "c", "d"))
    view = make_view(features=features)
    texts: dict[str, list[str | None]] = {
        "a": ["é", "x", ""],
        "b": [None, "", "plain"],
        "c": ["東京", "y\x00z", None],  # a NUL inside: its row spells out string lengths
        "d": ["🚀!", None, "ascii\r"],
    }
    store.write(view, rows(view, {"user_id": [1, 2, 3]}, [T0] * 3, **texts))
    entity_rows = [{"user_id": u} for u in (1, 2, 3)]

    in_order = store.read(entity_rows, [OnlineRequest(view, ("a", "b", "c", "d"))], T0)
    picked = store.read(entity_rows, [OnlineRequest(view, ("d", "b", "a"))], T0)

    by_row = [list(row) for row in zip(*texts.values(), strict=True)]
    assert in_order.values == by_row
    assert picked.values == [[row[3], row[1], row[0]] for row in by_row]


def test_one_key_per_entity_holds_the_event_time_and_all_values_in_feature_order(
    store: RedisOnlineStore, make_view: MakeView, client: redis.Redis
) -> None:
    view = make_view()
    store.write(view, rows(view, {"user_id": [1]}, [T0], clicks=[7], score=[0.5], country=["DE"]))

    stored = client.get(_key(view, "i1"))

    # 16 digits of epoch microseconds for 2026-11-26T12:00Z; "0": strings joined by NUL; int64,
    # float64, a zero byte for the string and bool in feature order; a bitmap of nulls (feature
    # 3, active); the strings' UTF-8, joined by NUL (here only one).
    fixed = struct.pack("<qd??B", 7, 0.5, False, False, 0b1000)
    assert stored == b"1795694400000000" + b"0" + fixed + b"DE"
    assert client.pttl(_key(view, "i1")) == -1  # no ttl: kept until replaced


def test_only_newer_events_replace_what_is_stored_and_rewrites_change_nothing(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    view = make_view()
    first = store.write(view, rows(view, {"user_id": [1, 2]}, [T0, T0], clicks=[10, 20]))
    older = store.write(view, rows(view, {"user_id": [1, 2]}, [T0 - SECOND] * 2, clicks=[1, 2]))
    same = store.write(view, rows(view, {"user_id": [1, 2]}, [T0, T0], clicks=[99, 99]))
    newer = store.write(view, rows(view, {"user_id": [1]}, [T0 + MICROSECOND], clicks=[11]))

    assert (first, older, same, newer) == (
        WriteResult(2, 2),
        WriteResult(2, 0),
        WriteResult(2, 0),
        WriteResult(1, 1),
    )
    now = T0 + SECOND
    assert read_one(store, view, {"user_id": 1}, now)[f"{view.name}__clicks"].value == 11
    assert read_one(store, view, {"user_id": 2}, now)[f"{view.name}__clicks"].value == 20


def test_the_newest_row_of_an_entity_wins_within_one_write_in_any_order(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    view = make_view()
    table = rows(view, {"user_id": [1, 1, 1]}, [T0, T0 + SECOND, T0 - SECOND], clicks=[2, 3, 1])

    assert store.write(view, table) == WriteResult(rows=3, written=2)
    assert read_one(store, view, {"user_id": 1}, T0 + SECOND)[f"{view.name}__clicks"].value == 3


def test_writes_larger_than_a_script_call_and_a_round_trip_are_all_counted(
    client: redis.Redis, make_view: MakeView
) -> None:
    store = RedisOnlineStore(client, keys_per_script=7, rows_per_round_trip=20)
    view = make_view()
    users = list(range(100))
    client.script_flush()  # the script is reloaded without the caller noticing

    result = store.write(view, rows(view, {"user_id": users}, [T0] * 100, clicks=users))

    assert result == WriteResult(rows=100, written=100)
    read = store.read([{"user_id": u} for u in users], [OnlineRequest(view, ("clicks",))], T0)
    assert read.values == [[user] for user in users]


def test_ttl_is_enforced_on_read_exactly_at_the_boundary(
    store: RedisOnlineStore, make_view: MakeView, client: redis.Redis
) -> None:
    ttl = dt.timedelta(hours=1)
    view = make_view(ttl=ttl)
    store.write(view, rows(view, {"user_id": [1]}, [RECENT], clicks=[5]))

    at_ttl = read_one(store, view, {"user_id": 1}, RECENT + ttl)
    past_ttl = read_one(store, view, {"user_id": 1}, RECENT + ttl + MICROSECOND)

    assert (at_ttl[f"{view.name}__clicks"].value, at_ttl[f"{view.name}__clicks"].status) == (
        5,
        ValueStatus.PRESENT,
    )
    assert {(v.value, v.status, v.event_timestamp) for v in past_ttl.values()} == {
        (None, ValueStatus.EXPIRED, RECENT)
    }
    # Redis drops the key one ttl later still, so reads can tell EXPIRED from NOT_FOUND meanwhile.
    expires_at_ms = client.pexpiretime(_key(view, "i1"))
    assert expires_at_ms == (RECENT + 2 * ttl - EPOCH) // dt.timedelta(milliseconds=1)


def test_a_value_past_its_freshness_slo_is_marked_stale_or_nulled_by_the_view_policy(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    slo = dt.timedelta(minutes=10)
    features = (
        FeatureDefinition("clicks", DataType.INT64, freshness=slo),
        FeatureDefinition("country", DataType.STRING),
    )
    marking = make_view(features=features)
    nulling = make_view(features=features, stale_policy=StalePolicy.NULL)
    for view in (marking, nulling):
        store.write(view, rows(view, {"user_id": [1]}, [T0], clicks=[5], country=["DE"]))

    def statuses(view: ViewDefinition, now: dt.datetime) -> list[tuple[Any, ValueStatus]]:
        return [(v.value, v.status) for v in read_one(store, view, {"user_id": 1}, now).values()]

    fresh = [(5, ValueStatus.PRESENT), ("DE", ValueStatus.PRESENT)]
    assert statuses(marking, T0 + slo) == statuses(nulling, T0 + slo) == fresh
    late = T0 + slo + MICROSECOND
    assert statuses(marking, late) == [(5, ValueStatus.STALE), ("DE", ValueStatus.PRESENT)]
    assert statuses(nulling, late) == [(None, ValueStatus.STALE), ("DE", ValueStatus.PRESENT)]


@pytest.mark.parametrize("policy", [StalePolicy.MARK, StalePolicy.NULL])
def test_each_feature_goes_stale_at_its_own_slo_in_any_requested_order_until_the_ttl(
    store: RedisOnlineStore, make_view: MakeView, policy: StalePolicy
) -> None:
    minute, ttl = dt.timedelta(minutes=1), dt.timedelta(hours=1)
    features = (
        FeatureDefinition("clicks", DataType.INT64, freshness=minute),
        FeatureDefinition("score", DataType.FLOAT64, freshness=10 * minute),
        FeatureDefinition("country", DataType.STRING, freshness=minute),
        FeatureDefinition("active", DataType.BOOL),
    )
    view = make_view(features=features, ttl=ttl, stale_policy=policy)
    store.write(
        view,
        rows(
            view, {"user_id": [1]}, [RECENT], clicks=[5], score=[0.5], country=["DE"], active=[True]
        ),
    )
    request = [OnlineRequest(view, ("active", "score", "clicks", "country"))]
    present, stale, expired = ValueStatus.PRESENT, ValueStatus.STALE, ValueStatus.EXPIRED
    kept = policy is StalePolicy.MARK

    def read(age: dt.timedelta) -> tuple[list[Any], list[ValueStatus]]:
        result = store.read([{"user_id": 1}], request, RECENT + age)
        assert result.event_timestamps == [[RECENT]]
        return result.values[0], result.statuses[0]

    # Later reads past fewer SLOs get their own statuses back, not the last ones made.
    for _ in range(2):
        assert read(minute) == ([True, 0.5, 5, "DE"], [present] * 4)
        assert read(minute + MICROSECOND) == (
            [True, 0.5, 5 if kept else None, "DE" if kept else None],
            [present, present, stale, stale],
        )
        assert read(10 * minute) == (
            [True, 0.5, 5 if kept else None, "DE" if kept else None],
            [present, present, stale, stale],
        )
        assert read(10 * minute + MICROSECOND) == (
            [True, 0.5 if kept else None, 5 if kept else None, "DE" if kept else None],
            [present, stale, stale, stale],
        )
    assert read(ttl) == (
        [True, 0.5 if kept else None, 5 if kept else None, "DE" if kept else None],
        [present, stale, stale, stale],
    )
    assert read(ttl + MICROSECOND) == ([None] * 4, [expired] * 4)


def test_a_zero_freshness_slo_leaves_only_values_of_this_very_microsecond_present(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    features = (
        FeatureDefinition("clicks", DataType.INT64, freshness=dt.timedelta(0)),
        FeatureDefinition("country", DataType.STRING),
    )
    view = make_view(features=features)
    store.write(view, rows(view, {"user_id": [1]}, [T0], clicks=[5], country=["DE"]))

    now = store.read([{"user_id": 1}], [OnlineRequest(view, view.feature_names)], T0)
    later = store.read(
        [{"user_id": 1}], [OnlineRequest(view, view.feature_names)], T0 + MICROSECOND
    )

    assert now.statuses == [[ValueStatus.PRESENT, ValueStatus.PRESENT]]
    assert later.statuses == [[ValueStatus.STALE, ValueStatus.PRESENT]]


def test_an_entity_never_written_is_not_found(store: RedisOnlineStore, make_view: MakeView) -> None:
    view = make_view()
    store.write(view, rows(view, {"user_id": [1]}, [T0], clicks=[5]))

    missing = read_one(store, view, {"user_id": 2}, T0)

    assert list(missing) == [f"{view.name}__{name}" for name in view.feature_names]
    assert set(missing.values()) == {FeatureValue(None, ValueStatus.NOT_FOUND, None)}


def test_one_call_reads_several_views_of_different_entities_for_each_row_in_order(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    users = make_view(features=(FeatureDefinition("clicks", DataType.INT64),))
    merchant_features = (
        FeatureDefinition("sales", DataType.FLOAT64),
        FeatureDefinition("tier", DataType.STRING),
    )
    merchants = make_view(join_keys=("merchant_id", "region"), features=merchant_features)
    store.write(users, rows(users, {"user_id": [1, 2]}, [T0, T0], clicks=[10, 20]))
    store.write(
        merchants,
        rows(merchants, {"merchant_id": [7], "region": ["eu"]}, [T0], sales=[1.5], tier=["gold"]),
    )
    entity_rows = [
        {"user_id": 2, "merchant_id": 7, "region": "eu"},
        {"user_id": 1, "merchant_id": 7, "region": "us"},
    ]
    requests = [OnlineRequest(merchants, ("tier", "sales")), OnlineRequest(users, ("clicks",))]

    result = store.read(entity_rows, requests, T0)

    present, not_found = ValueStatus.PRESENT, ValueStatus.NOT_FOUND
    assert result == OnlineFeatures(
        columns=(f"{merchants.name}__tier", f"{merchants.name}__sales", f"{users.name}__clicks"),
        values=[["gold", 1.5, 20], [None, None, 10]],
        statuses=[[present, present, present], [not_found, not_found, present]],
        event_timestamps=[[T0, T0], [None, T0]],
        views=(merchants.name, users.name),
    )
    assert result.row(1)[f"{merchants.name}__tier"] == FeatureValue(None, not_found, None)
    assert result.row(1)[f"{users.name}__clicks"] == FeatureValue(10, present, T0)


def test_whole_views_decoded_together_equal_their_features_picked_one_by_one(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    # Rows asking for whole views decode all of them at once; picked features decode view by
    # view. Nulls on either side of a byte of the null bitmap, strings of any script or empty.
    dtypes = [DataType.STRING, DataType.INT64, DataType.BOOL, DataType.FLOAT64, DataType.STRING]
    wide = tuple(FeatureDefinition(f"w{i}", dtypes[i % 5]) for i in range(11))
    views = [make_view(), make_view(features=wide), make_view(features=ALL_DTYPES[:2])]
    samples: dict[DataType, list[Any]] = {
        DataType.STRING: ["東京", "", None, "plain"],
        DataType.INT64: [-(2**63), None, 0, 42],
        DataType.BOOL: [True, False, None, True],
        DataType.FLOAT64: [None, -0.5, 1e300, 0.0],
    }
    for shift, view in enumerate(views):
        columns = {
            f.name: [samples[f.dtype][(u + i + shift) % 4] for u in range(4)]
            for i, f in enumerate(view.features)
        }
        store.write(view, rows(view, {"user_id": [0, 1, 2, 3]}, [T0] * 4, **columns))
    entity_rows = [{"user_id": u} for u in (3, 0, 2, 1)]

    together = store.read(entity_rows, [OnlineRequest(v, v.feature_names) for v in views], T0)
    backwards = [OnlineRequest(v, tuple(reversed(v.feature_names))) for v in views]
    picked = store.read(entity_rows, backwards, T0)

    widths = [len(v.features) for v in views]
    for whole_row, picked_row in zip(together.values, picked.values, strict=True):
        blocks, start = [], 0
        for width in widths:
            blocks += reversed(picked_row[start : start + width])
            start += width
        assert whole_row == blocks
    assert {s for row in together.statuses for s in row} == {ValueStatus.PRESENT}
    assert together.values[1][:4] == [samples[f.dtype][i % 4] for i, f in enumerate(ALL_DTYPES)]


def test_int_and_str_keys_and_concatenations_of_keys_do_not_collide(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    single = make_view(features=(FeatureDefinition("clicks", DataType.INT64),))
    store.write(single, rows(single, {"user_id": [1]}, [T0], clicks=[100]))
    store.write(single, rows(single, {"user_id": ["1"]}, [T0], clicks=[200]))
    pair = make_view(join_keys=("a", "b"), features=(FeatureDefinition("clicks", DataType.INT64),))
    store.write(pair, rows(pair, {"a": ["ab", "a"], "b": ["c", "bc"]}, [T0] * 2, clicks=[1, 2]))

    singles = store.read(
        [{"user_id": 1}, {"user_id": "1"}], [OnlineRequest(single, ("clicks",))], T0
    )
    pairs = store.read(
        [{"a": "ab", "b": "c"}, {"a": "a", "b": "bc"}], [OnlineRequest(pair, ("clicks",))], T0
    )

    assert singles.values == [[100], [200]]
    assert pairs.values == [[1], [2]]


def test_versions_of_one_view_neither_see_nor_delete_each_other(
    store: RedisOnlineStore, make_view: MakeView
) -> None:
    old = make_view(version="aaaaaaaaaaaa")
    new = make_view(name=old.name, version="bbbbbbbbbbbb")
    store.write(old, rows(old, {"user_id": [1, 2, 3]}, [T0] * 3, clicks=[1, 2, 3]))
    store.write(new, rows(new, {"user_id": [1]}, [T0], clicks=[10]))

    assert read_one(store, new, {"user_id": 2}, T0)[f"{new.name}__clicks"].value is None
    assert store.delete_view(old) == 3
    assert store.delete_view(old) == 0
    assert read_one(store, old, {"user_id": 1}, T0)[f"{old.name}__clicks"].value is None
    assert read_one(store, new, {"user_id": 1}, T0)[f"{new.name}__clicks"].value == 10


def test_delete_view_removes_every_entity_beyond_one_scan_page(
    client: redis.Redis, make_view: MakeView
) -> None:
    store = RedisOnlineStore(client, keys_per_script=10)
    view = make_view()
    store.write(view, rows(view, {"user_id": list(range(55))}, [T0] * 55))

    assert store.delete_view(view) == 55
    assert client.exists(*[_key(view, f"i{u}") for u in range(55)]) == 0


def test_a_read_of_100_entities_by_3_views_is_one_mget(
    store: RedisOnlineStore, make_view: MakeView, client: redis.Redis, endpoints: Endpoints
) -> None:
    views = [make_view(join_keys=(f"key{i}",)) for i in range(3)]
    for index, view in enumerate(views):
        keys = {f"key{index}": list(range(100))}
        store.write(view, rows(view, keys, [T0] * 100, clicks=list(range(100))))
    entity_rows = [{"key0": n, "key1": n, "key2": n} for n in range(100)]
    requests = [OnlineRequest(view, view.feature_names) for view in views]
    address = client.client_info()["addr"]
    marker = f"end-of-read-{uuid.uuid4().hex}"

    watcher = redis.Redis.from_url(endpoints.redis)
    with closing(watcher), watcher.monitor() as monitor:  # type: ignore[no-untyped-call]
        result = store.read(entity_rows, requests, T0)
        client.echo(marker)  # our connection's last command: MONITOR shows commands in order
        commands = []
        while marker not in (seen := monitor.next_command())["command"]:
            if f"{seen['client_address']}:{seen['client_port']}" == address:
                commands.append(seen["command"].split()[0])

    assert commands == ["MGET"]
    assert len(result.values) == len(result.statuses) == len(result.event_timestamps) == 100
    assert result.row(42)[f"{views[2].name}__clicks"].value == 42


def test_an_unreachable_redis_is_store_unavailable_for_every_operation(
    make_view: MakeView,
) -> None:
    store = RedisOnlineStore.from_url(f"redis://127.0.0.1:{processes.free_port()}/0")
    view = make_view()

    with pytest.raises(StoreUnavailableError, match="did not answer read"):
        read_one(store, view, {"user_id": 1}, T0)
    with pytest.raises(StoreUnavailableError, match="did not answer write"):
        store.write(view, rows(view, {"user_id": [1]}, [T0]))
    with pytest.raises(StoreUnavailableError, match="did not answer delete_view"):
        store.delete_view(view)
    with pytest.raises(StoreUnavailableError, match="did not answer delete_all_versions"):
        store.delete_all_versions(view.namespace, view.name)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.drop_columns(["score"]), "lack column.*score"),
        (lambda t: t.set_column(1, "event_ts", t["event_ts"].cast(pa.timestamp("us"))), "zone"),
        (lambda t: t.set_column(0, "user_id", pa.array([None, 1], pa.int64())), "null"),
        (lambda t: t.set_column(0, "user_id", pa.array([0.5, 1.0])), "integer or a string"),
        (lambda t: t.set_column(5, "active", pa.array(["yes", "no"])), "active is not bool"),
    ],
)
def test_rows_that_do_not_fit_the_view_are_refused_before_anything_is_written(
    store: RedisOnlineStore,
    make_view: MakeView,
    change: Callable[[pa.Table], pa.Table],
    message: str,
) -> None:
    view = make_view()
    good = rows(view, {"user_id": [1, 2]}, [T0, T0])

    with pytest.raises(SourceDataError, match=message):
        store.write(view, change(good))
    assert read_one(store, view, {"user_id": 2}, T0)[f"{view.name}__clicks"].status == (
        ValueStatus.NOT_FOUND
    )


def test_reads_of_no_entity_rows_or_no_requests_make_no_round_trip(
    make_view: MakeView,
) -> None:
    unreachable = RedisOnlineStore.from_url(f"redis://127.0.0.1:{processes.free_port()}/0")
    view = make_view()

    no_rows = unreachable.read([], [OnlineRequest(view, ("score", "clicks"))], T0)
    no_requests = unreachable.read([{"user_id": 1}, {"user_id": 2}], [], T0)

    assert no_rows == OnlineFeatures(
        (f"{view.name}__score", f"{view.name}__clicks"), [], [], [], (view.name,)
    )
    assert no_requests == OnlineFeatures((), [[], []], [[], []], [[], []], ())


def test_bad_requests_fail_before_any_round_trip(make_view: MakeView) -> None:
    unreachable = RedisOnlineStore.from_url(f"redis://127.0.0.1:{processes.free_port()}/0")
    view = make_view()

    with pytest.raises(KeyError, match=r"no feature.*nope"):
        unreachable.read([{"user_id": 1}], [OnlineRequest(view, ("clicks", "nope"))], T0)
    with pytest.raises(KeyError, match="lacks join key 'user_id'"):
        unreachable.read([{"user": 1}], [OnlineRequest(view, ("clicks",))], T0)
    with pytest.raises(TypeError, match="int or str, not float"):
        unreachable.read([{"user_id": 1.0}], [OnlineRequest(view, ("clicks",))], T0)
    with pytest.raises(ValueError, match="decode_responses"):
        RedisOnlineStore(redis.Redis(decode_responses=True))


def test_two_namespaces_views_of_one_name_and_version_keep_their_own_values(
    store: RedisOnlineStore, make_view: MakeView, client: redis.Redis
) -> None:
    name = f"activity-{uuid.uuid4().hex[:8]}"
    ours, theirs = (
        make_view(namespace="team-a", name=name),
        make_view(namespace="team-b", name=name),
    )
    assert (ours.version, ours.name) == (theirs.version, theirs.name)
    store.write(ours, rows(ours, {"user_id": [1, 2]}, [T0] * 2, clicks=[1, 2]))
    store.write(theirs, rows(theirs, {"user_id": [1]}, [T0 - dt.timedelta(hours=1)], clicks=[100]))

    # The other namespace's write is older, yet it replaced nothing: the keys are apart.
    assert read_one(store, ours, {"user_id": 1}, T0)[f"{name}__clicks"].value == 1
    assert read_one(store, theirs, {"user_id": 1}, T0)[f"{name}__clicks"].value == 100
    assert read_one(store, theirs, {"user_id": 2}, T0)[f"{name}__clicks"].status is (
        ValueStatus.NOT_FOUND
    )
    assert client.exists(_key(ours, "i1"), _key(theirs, "i1")) == 2


def test_deleting_a_feature_view_removes_every_version_and_nothing_of_another_namespace(
    client: redis.Redis, make_view: MakeView
) -> None:
    store = RedisOnlineStore(client, keys_per_script=10)
    name = f"activity-{uuid.uuid4().hex[:8]}"
    versions = [
        make_view(namespace="team-a", name=name, version=v)
        for v in ("000000000001", "000000000002")
    ]
    # A name that starts like it, and the same name in another namespace, must stay.
    longer = make_view(namespace="team-a", name=f"{name}-2")
    elsewhere = make_view(namespace="team-b", name=name, version="000000000001")
    for view in (*versions, longer, elsewhere):
        store.write(view, rows(view, {"user_id": list(range(25))}, [T0] * 25))

    assert store.delete_all_versions("team-a", name) == 50
    assert store.delete_all_versions("team-a", name) == 0
    assert client.exists(*[_key(v, f"i{u}") for v in versions for u in range(25)]) == 0
    assert client.exists(*[_key(v, f"i{u}") for v in (longer, elsewhere) for u in range(25)]) == 50
