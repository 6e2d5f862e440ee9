"""RedisOnlineStore against bare redis-py on the same keys, on a redis-server of its own.

Run on demand: `.venv/bin/python benchmarks/bench_online.py [--quick]`. Each read is timed back to
back with two bare reads of the same keys, in rotating order, so machine noise hits all alike: a
redis-py pipeline of one GET per key (the issue's reference, "a bare redis-py pipelined read")
and one MGET (the fastest bare read, a stricter floor). "+decode" is that MGET plus decoding each
entity's values into a row with the store's own decoder, without judging ttl or freshness or
laying out the columnar `OnlineFeatures`.
Writes are timed against bare pipelined SETs of the same keys and payloads.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, cast

import pyarrow as pa
import redis

from paved.adapters.online.redis import RedisOnlineStore
from paved.api.feature_view import DataType
from paved.core.feature_views import FeatureDefinition, ViewDefinition
from paved.ports.online import EntityRow, OnlineRequest, ValueStatus
from paved_local.processes import free_port

NOW = dt.datetime.now(dt.UTC)
ENTITIES = 10_000  # entities stored per view; reads pick among them at random
WRITE_ROWS = 50_000
WRITE_ROWS_PER_PIPELINE = 10_000  # the same round-trip size as RedisOnlineStore's default
READ_BAR = 1.5  # p99 of the store at most this many times the bare pipelined read's, (a) and (b)
WRITE_BAR = 0.5  # write throughput at least this share of bare SETs
_DTYPES = (DataType.INT64, DataType.FLOAT64, DataType.STRING, DataType.BOOL)
_ARROW = {
    DataType.INT64: pa.int64(),
    DataType.FLOAT64: pa.float64(),
    DataType.STRING: pa.string(),
    DataType.BOOL: pa.bool_(),
}


def _key(view: ViewDefinition, user: int) -> str:
    """The store's key of a user's values in `view` (paved.adapters.online.redis's layout)."""
    return f"pv:{view.namespace}:{view.name}:{view.version}:i{user}"


@contextmanager
def redis_server() -> Iterator[redis.Redis]:
    """A throwaway redis-server on loopback, no persistence; stopped however the run ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is not on PATH (Debian package redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-online-") as directory:
        argv = [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            directory,
        ]
        server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        client = redis.Redis(host="127.0.0.1", port=port)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            yield client
        finally:
            client.close()
            server.terminate()
            server.wait(timeout=10)


def make_view(name: str, features: int, version: str = "0123456789ab") -> ViewDefinition:
    """`features` features cycling through the four dtypes, a 7-day ttl, 1-hour freshness."""
    return ViewDefinition(
        namespace="bench",
        name=name,
        version=version,
        join_keys=("user_id",),
        source="/unused/*.parquet",
        data_root="/unused",
        timestamp_field="event_ts",
        created_timestamp_field=None,
        ttl=dt.timedelta(days=7),
        features=tuple(
            FeatureDefinition(f"f{i}", _DTYPES[i % 4], freshness=dt.timedelta(hours=1))
            for i in range(features)
        ),
    )


def make_rows(view: ViewDefinition, users: Sequence[int], seed: int = 1) -> pa.Table:
    chance = random.Random(seed)
    columns: dict[str, pa.Array] = {
        "user_id": pa.array(users, pa.int64()),
        "event_ts": pa.array(
            [NOW - dt.timedelta(minutes=5)] * len(users), pa.timestamp("us", "UTC")
        ),
    }
    makers: dict[DataType, Callable[[], object]] = {
        DataType.INT64: lambda: chance.randrange(1_000_000),
        DataType.FLOAT64: chance.random,
        DataType.STRING: lambda: chance.choice(["DE", "FR", "US", "gold", "silver"]),
        DataType.BOOL: lambda: chance.random() < 0.5,
    }
    for feature in view.features:
        make = makers[feature.dtype]
        columns[feature.name] = pa.array([make() for _ in users], _ARROW[feature.dtype])
    return pa.table(columns)


def percentile(samples: Sequence[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(frozen=True)
class ReadCase:
    label: str
    views: tuple[ViewDefinition, ...]
    entities_per_read: int
    bar: float | None


def bench_read(
    client: redis.Redis, store: RedisOnlineStore, case: ReadCase, iterations: int
) -> dict[str, float]:
    requests = [OnlineRequest(view, view.feature_names) for view in case.views]
    whole = store._layout(requests).whole
    assert whole is not None, "every view is requested whole: the store decodes rows in one go"
    check(store, case, requests)
    chance = random.Random(7)
    floor: list[float] = []
    pipelined: list[float] = []
    decoded: list[float] = []
    adapter: list[float] = []
    warmup = iterations // 10
    for index in range(iterations):
        # Inputs are made per iteration, outside the clock: a heap full of prepared inputs
        # would make every garbage collection inside the clock slower than in a server.
        users = chance.sample(range(ENTITIES), case.entities_per_read)
        keys = [_key(view, user) for user in users for view in case.views]
        entity_rows: list[EntityRow] = [{"user_id": user} for user in users]
        steps: list[tuple[list[float], Callable[[], object]]] = [
            (floor, partial(client.mget, keys)),
            (pipelined, partial(pipelined_get, client, keys)),
            (decoded, partial(mget_and_decode, client, keys, whole.decode, len(case.views))),
            (adapter, partial(store.read, entity_rows, requests, NOW)),
        ]
        turn = index % len(steps)  # each goes first, second and last in turn
        for samples, step in steps[turn:] + steps[:turn]:
            elapsed = timed(step)
            if index >= warmup:
                samples.append(elapsed)
    return {
        "floor_p50": statistics.median(floor),
        "floor_p99": percentile(floor, 0.99),
        "pipelined_p50": statistics.median(pipelined),
        "pipelined_p99": percentile(pipelined, 0.99),
        "decoded_p50": statistics.median(decoded),
        "store_p50": statistics.median(adapter),
        "store_p99": percentile(adapter, 0.99),
    }


def check(store: RedisOnlineStore, case: ReadCase, requests: Sequence[OnlineRequest]) -> None:
    """The timed read returns every value, present, in request order: else its timing is moot."""
    entity_rows = [{"user_id": user} for user in range(case.entities_per_read)]
    result = store.read(entity_rows, requests, NOW)
    columns = tuple(f"{view.name}__{name}" for view in case.views for name in view.feature_names)
    assert result.columns == columns, "columns out of request order"
    assert all(row == [ValueStatus.PRESENT] * len(columns) for row in result.statuses)
    assert all(None not in row for row in result.values)


def pipelined_get(client: redis.Redis, keys: list[str]) -> list[Any]:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.get(key)
    return pipe.execute()


def mget_and_decode(
    client: redis.Redis,
    keys: list[str],
    decode: Callable[[Sequence[bytes]], list[Any]],
    views: int,
) -> list[list[Any]]:
    values = cast(list[bytes], client.mget(keys))  # every key is there; the client keeps bytes
    return [decode(values[start : start + views]) for start in range(0, len(values), views)]


def timed(step: Callable[[], object]) -> float:
    """Microseconds that one call of `step` takes."""
    started = time.perf_counter_ns()
    step()
    return (time.perf_counter_ns() - started) / 1000


def bench_write(
    client: redis.Redis, store: RedisOnlineStore, features: int, repeats: int
) -> dict[str, float]:
    users = list(range(WRITE_ROWS))
    store_rates, bare_rates, rewrite_rates = [], [], []
    for repeat in range(repeats):
        # A fresh version each time, so every row is new and really written.
        view = make_view(f"write{features}", features, version=f"{repeat:012d}")
        table = make_rows(view, users, seed=repeat)
        started = time.perf_counter()
        result = store.write(view, table)
        store_rates.append(WRITE_ROWS / (time.perf_counter() - started))
        assert result.written == WRITE_ROWS, result
        started = time.perf_counter()
        store.write(view, table)
        rewrite_rates.append(WRITE_ROWS / (time.perf_counter() - started))

        # The same payloads, prepared outside the clock, under other keys.
        prefix = f"bare:{view.name}:{view.version}:"
        stored = cast(list[bytes], client.mget([_key(view, u) for u in users]))
        pairs = [(f"{prefix}i{u}", value) for u, value in zip(users, stored, strict=True)]
        started = time.perf_counter()
        for start in range(0, WRITE_ROWS, WRITE_ROWS_PER_PIPELINE):
            pipe = client.pipeline(transaction=False)
            for key, value in pairs[start : start + WRITE_ROWS_PER_PIPELINE]:
                pipe.set(key, value)
            pipe.execute()
        bare_rates.append(WRITE_ROWS / (time.perf_counter() - started))
        client.flushdb()
    return {
        "store": statistics.median(store_rates),
        "rewrite": statistics.median(rewrite_rates),
        "bare": statistics.median(bare_rates),
    }


def populate(store: RedisOnlineStore, views: Sequence[ViewDefinition]) -> None:
    for view in views:
        store.write(view, make_rows(view, range(ENTITIES)))


def verdict(ratio: float, bar: float | None, higher_is_better: bool = False) -> str:
    if bar is None:
        return "(no bar)"
    met = ratio >= bar if higher_is_better else ratio <= bar
    return f"{'meets' if met else 'MISSES'} bar {bar}x"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the iterations")
    quick = parser.parse_args().quick
    scale = 10 if quick else 1
    print(
        f"python {sys.version.split()[0]}, redis-py {redis.__version__}, pyarrow {pa.__version__}"
    )
    with redis_server() as client:
        print(f"redis-server {client.info('server')['redis_version']} on loopback\n")
        store = RedisOnlineStore(client)
        wide = make_view("wide", 100)
        many = tuple(make_view(f"part{i}", 200) for i in range(10))
        populate(store, [wide, *many])
        # As a serving process would after start-up: otherwise each full collection walks every
        # object pyarrow, numpy and redis-py left on the heap, and that, not the read, sets p99.
        gc.collect()
        gc.freeze()
        cases = [
            (ReadCase("(a) 1 entity x 100 features", (wide,), 1, READ_BAR), 20_000),
            (ReadCase("(b) 1 entity x 2,000 features", many, 1, READ_BAR), 20_000),
            (ReadCase("(c) 100 entities x 100 features", (wide,), 100, None), 2_000),
        ]
        print(
            f"{'read (microseconds)':32} {'GETs p50':>8} {'p99':>6} {'MGET p50':>8} {'p99':>6} "
            f"{'+decode p50':>11} {'store p50':>9} {'p99':>6} "
            f"{'p99 x GETs':>10} {'p99 x MGET':>10} {'p50 x MGET':>10}"
        )
        for case, iterations in cases:
            numbers = bench_read(client, store, case, max(200, iterations // scale))
            bar_ratio = numbers["store_p99"] / numbers["pipelined_p99"]
            p99_ratio = numbers["store_p99"] / numbers["floor_p99"]
            p50_ratio = numbers["store_p50"] / numbers["floor_p50"]
            print(
                f"{case.label:32} {numbers['pipelined_p50']:8.0f} {numbers['pipelined_p99']:6.0f} "
                f"{numbers['floor_p50']:8.0f} {numbers['floor_p99']:6.0f} "
                f"{numbers['decoded_p50']:11.0f} {numbers['store_p50']:9.0f} "
                f"{numbers['store_p99']:6.0f} {bar_ratio:10.2f} {p99_ratio:10.2f} "
                f"{p50_ratio:10.2f}  {verdict(bar_ratio, case.bar)}"
            )
        client.flushdb()
        print(
            f"\n{'write (rows/s, ' + format(WRITE_ROWS, ',') + ' rows)':34} {'store':>9} "
            f"{'bare SET':>9} {'ratio':>6} {'rewrite':>9}"
        )
        for features in (100, 10):
            rates = bench_write(client, store, features, repeats=3 if not quick else 1)
            ratio = rates["store"] / rates["bare"]
            print(
                f"{'(d) rows of ' + str(features) + ' features':34} {rates['store']:9.0f} "
                f"{rates['bare']:9.0f} {ratio:6.2f} {rates['rewrite']:9.0f}  "
                f"{verdict(ratio, WRITE_BAR, higher_is_better=True)}"
            )


if __name__ == "__main__":
    main()
