"""`OnlineStore` on Redis: one string key per (view, version, entity) holds all the view's values.

Keys are `pv:<namespace>:<view>:<version>:<entity>`: a view belongs to its namespace, so two
namespaces' views of one name (even of one definition, so one version) never share a key.
Kubernetes names hold no `:` and no glob specials, so a view's keys, or all its versions', are
one SCAN pattern.

Value: 16 zero-padded digits of event time (epoch µs), then the features typed binary (`_Codec`),
so a Lua script keeps only newer events by comparing strings. A read is one MGET for every key of
the call; ttl and freshness are judged against the caller's `now`, never Redis's clock.

Reads build no object per value but the values themselves, into a columnar `OnlineFeatures`.
An entity row whose values are all present and fresh, for requests of whole views (the usual
case), decodes in one go (`_WholeRow`); any other row decodes view by view, each (entity, view)
straight into its row's values, extending its statuses with a tuple made once per request
(`_ReadPlan`). Ages are compared as integer microseconds, and each distinct event time becomes a
datetime once per read. Plans, and the columns and keys of a list of requests (`_Layout`), are
cached.
"""

from __future__ import annotations

import datetime as dt
import struct
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import reduce
from itertools import chain
from operator import itemgetter
from typing import Any, Final, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from paved.api.feature_view import DataType, StalePolicy
from paved.core.feature_views import ViewDefinition
from paved.errors import SourceDataError, StoreUnavailableError
from paved.ports.online import (
    EntityRow,
    OnlineFeatures,
    OnlineRequest,
    ValueStatus,
    WriteResult,
)

KEY_PREFIX: Final = "pv"
TIMESTAMP_DIGITS: Final = 16  # epoch microseconds below 10**16: until the year 2286
DEFAULT_KEYS_PER_SCRIPT: Final = 500
DEFAULT_ROWS_PER_ROUND_TRIP: Final = 10_000

_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND: Final = dt.timedelta(microseconds=1)
_LAST_MICROSECOND: Final = 10**TIMESTAMP_DIGITS - 1
_MAX_PLANS: Final = 1024
_LAYOUTS_PER_VIEWS: Final = 8  # feature lists kept per list of views; beyond, the oldest goes
_NO_LIMIT: Final = 1 << 62  # an age in microseconds that no value reaches
_ARROW_TYPES: Final = {
    DataType.INT64: pa.int64(),
    DataType.FLOAT64: pa.float64(),
    DataType.STRING: pa.string(),
    DataType.BOOL: pa.bool_(),
}
# Per dtype: its numpy field, its struct code, and what stands in for a null in the fixed part.
_FIELDS: Final[dict[DataType, tuple[str, str, object]]] = {
    DataType.INT64: ("<i8", "q", 0),
    DataType.FLOAT64: ("<f8", "d", 0.0),
    DataType.BOOL: ("?", "?", False),
    DataType.STRING: ("?", "?", ""),  # a placeholder: the UTF-8 follows at the end
}
# The byte after the event time: how the strings at the end are laid out. Joined by NUL, they
# split in one call; a row with a NUL inside a string spells out each length instead.
_JOINED: Final = ord("0")
_LENGTH_PREFIXED: Final = ord("1")
_HEADER: Final = TIMESTAMP_DIGITS + 1
_STRING_LENGTH: Final = struct.Struct("<I")
_KEY_TYPES: Final = (pa.types.is_integer, pa.types.is_string, pa.types.is_large_string)
_UNAVAILABLE: Final = (redis.ConnectionError, redis.TimeoutError)

# KEYS[i] gets ARGV[i] unless it holds an event at least as new; with a ttl, ARGV[#KEYS + i] is
# when the key expires (epoch ms). Returns how many keys were written.
_WRITE_NEWER: Final = """
local expiring = #ARGV > #KEYS
local written = 0
for i, key in ipairs(KEYS) do
  local value = ARGV[i]
  if redis.call('GETRANGE', key, 0, 15) < string.sub(value, 1, 16) then
    if expiring then
      redis.call('SET', key, value, 'PXAT', ARGV[#KEYS + i])
    else
      redis.call('SET', key, value)
    end
    written = written + 1
  end
end
return written
"""

_Decoder = Callable[[list[Any], bytes], None]  # appends a stored value's features to a row
_StaleBlock = tuple[tuple[ValueStatus, ...], tuple[int, ...]]


@dataclass(frozen=True)
class _Codec:
    """A view version's feature values as bytes, after the event time and a layout byte.

    Fixed part, in feature order, little-endian: int64 and float64 in 8 bytes, bool in 1, and a
    zero byte standing in for each string; then a bitmap of null features (feature i is bit
    i % 8 of byte i // 8); then the UTF-8 of the string features in order: joined by NUL
    (`_JOINED`) or, when a string holds a NUL, each after its length as a 4-byte integer
    (`_LENGTH_PREFIXED`). Encoding is columnar (numpy, Arrow); decoding is one
    `struct.unpack_from` straight into the row, then one split for all the strings.
    """

    dtypes: tuple[DataType, ...]
    record: np.dtype[np.void]  # the fixed part of one row as numpy lays it out: no padding
    fixed: struct.Struct  # the same fixed part but the null bitmap, for decoding one value
    string_positions: tuple[int, ...]

    @classmethod
    def of(cls, view: ViewDefinition) -> _Codec:
        dtypes = tuple(feature.dtype for feature in view.features)
        null_bytes = (len(dtypes) + 7) // 8
        fields = [(f"f{position}", _FIELDS[dtype][0]) for position, dtype in enumerate(dtypes)]
        codes = "".join(_FIELDS[dtype][1] for dtype in dtypes)
        return cls(
            dtypes=dtypes,
            record=np.dtype([*fields, ("nulls", "u1", (null_bytes,))]),
            fixed=struct.Struct(f"<{codes}"),
            string_positions=tuple(p for p, d in enumerate(dtypes) if d == DataType.STRING),
        )

    def encode(self, micros: Sequence[int], columns: Sequence[pa.Array]) -> list[bytes]:
        """One value per row: its event time, then its features (columns of the view's dtypes)."""
        rows = np.zeros(len(micros), self.record)
        nulls: np.ndarray[Any, np.dtype[np.bool_]] | None = None
        strings = []
        for position, (dtype, column) in enumerate(zip(self.dtypes, columns, strict=True)):
            if column.null_count:
                if nulls is None:
                    nulls = np.zeros((len(micros), len(self.dtypes)), np.bool_)
                nulls[:, position] = column.is_null().to_numpy(zero_copy_only=False)
            filled = column.fill_null(_FIELDS[dtype][2])
            if dtype == DataType.STRING:
                strings.append(filled)
            else:
                rows[f"f{position}"] = filled.to_numpy(zero_copy_only=False)
        if nulls is not None:
            rows["nulls"] = np.packbits(nulls, axis=1, bitorder="little")
        fixed, width = rows.tobytes(), self.record.itemsize
        starts = range(0, len(fixed), width)
        stamps = [b"%016d" % event_us for event_us in micros]
        heads = [b"%c" % _JOINED] * len(micros)
        tails = [b""] * len(micros)
        if strings:
            tails = pc.binary_join_element_wise(*strings, "\x00").cast(pa.binary()).to_pylist()
            holding_nul = [pc.match_substring(string, "\x00") for string in strings]
            for row in np.flatnonzero(reduce(pc.or_, holding_nul).to_numpy(zero_copy_only=False)):
                heads[row] = b"%c" % _LENGTH_PREFIXED
                tails[row] = b"".join(
                    _STRING_LENGTH.pack(len(utf8)) + utf8
                    for utf8 in (string[row].as_py().encode() for string in strings)
                )
        return [
            stamp + head + fixed[start : start + width] + tail
            for stamp, head, start, tail in zip(stamps, heads, starts, tails, strict=True)
        ]

    def decoder(self, positions: Sequence[int]) -> _Decoder:
        """Appends to a row the values of a stored value's features at `positions`, in order."""
        fixed, count = self.fixed, len(self.dtypes)
        nulls_start = _HEADER + fixed.size
        no_nulls = bytes((count + 7) // 8)  # the null bitmap when no value is null
        strings_start = nulls_start + len(no_nulls)
        string_positions = self.string_positions
        # Requesting every feature in the view's order, the usual case, decodes straight into the
        # row; any other request decodes the whole value aside and picks from it.
        pick = None if tuple(positions) == tuple(range(count)) else _getter(positions)

        def decode(row: list[Any], value: bytes) -> None:
            values = row if pick is None else []
            start = len(values)
            values += fixed.unpack_from(value, _HEADER)
            if string_positions:
                tail = value[strings_start:]
                if value[TIMESTAMP_DIGITS] == _JOINED:
                    strings = tail.decode().split("\x00")
                else:
                    strings = _length_prefixed(tail, len(string_positions))
                for position, string in zip(string_positions, strings, strict=True):
                    values[start + position] = string
            if not value.startswith(no_nulls, nulls_start):
                nulls = int.from_bytes(value[nulls_start:strings_start], "little")
                while nulls:
                    lowest = nulls & -nulls
                    values[start + lowest.bit_length() - 1] = None
                    nulls ^= lowest
            if pick is not None:
                row += pick(values)

        return decode


def _length_prefixed(tail: bytes, count: int) -> list[str]:
    strings, offset = [], 0
    for _ in range(count):
        (size,) = _STRING_LENGTH.unpack_from(tail, offset)
        offset += _STRING_LENGTH.size
        strings.append(tail[offset : offset + size].decode())
        offset += size
    return strings


def _getter(indices: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """`operator.itemgetter`, but a tuple for any number of indices: for one and none too."""
    if len(indices) == 1:
        (index,) = indices
        return lambda items: (items[index],)
    return itemgetter(*indices) if indices else lambda _: ()


@dataclass(frozen=True, slots=True)
class _ReadPlan:
    """What one request adds to each entity row of a result, worked out once per view and features.

    Blocks are tuples spanning the request's features that rows are extended with: statuses all
    present, expired or not found, and values all None. A row within ttl but past some freshness
    SLOs takes a mixed block of statuses, with the indices of the values its stale policy nulls;
    there is one per number of distinct SLOs exceeded, made on first use.
    """

    view: ViewDefinition  # what the plan was made from: a plan serves only an equal view
    features: tuple[str, ...]  # as requested
    prefix: str
    codec: _Codec
    whole_view: bool  # every feature of the view, in its order
    decode: _Decoder
    ttl_us: int
    fresh_for_us: int  # the tightest freshness SLO among the requested features
    fresh_limit_us: int  # the oldest a value may be for all its features to be present
    outputs: tuple[str, ...]  # `view__feature`, in request order
    slos_us: tuple[int, ...]  # the requested features' distinct freshness SLOs, ascending
    slo_ranks: tuple[int, ...]  # per requested feature, its SLO's index in slos_us (or past it)
    stale_keeps_value: bool
    nones: tuple[None, ...]
    present: tuple[ValueStatus, ...]
    expired: tuple[ValueStatus, ...]
    not_found: tuple[ValueStatus, ...]
    stale_blocks: dict[int, _StaleBlock] = field(default_factory=dict, compare=False, repr=False)

    def serves(self, request: OnlineRequest) -> bool:
        view, features = request.view, request.features
        return (self.view is view or self.view == view) and (
            self.features is features or self.features == features
        )

    def stale_block(self, age_us: int) -> _StaleBlock:
        """Statuses, and the indices of values to null, for a row past some but not all SLOs."""
        exceeded = bisect_left(self.slos_us, age_us)  # how many SLOs are below the age
        block = self.stale_blocks.get(exceeded)
        if block is None:
            stale = [rank < exceeded for rank in self.slo_ranks]
            statuses = tuple(ValueStatus.STALE if s else ValueStatus.PRESENT for s in stale)
            nulled = () if self.stale_keeps_value else tuple(i for i, s in enumerate(stale) if s)
            # Concurrent reads may both fill this entry: with equal blocks, so no lock.
            block = self.stale_blocks[exceeded] = (statuses, nulled)
        return block


@dataclass(frozen=True, slots=True)
class _Layout:
    """The plans of one list of requests, the columns and views of their results, and their keys."""

    plans: tuple[_ReadPlan, ...]
    columns: tuple[str, ...]
    views: tuple[str, ...]
    join_keys: tuple[tuple[str, ...], ...]  # each distinct list of join keys of the plans
    key_parts: tuple[tuple[str, int], ...]  # per plan: its key prefix, its index in join_keys
    whole: _WholeRow | None  # when every plan requests its whole view
    present: tuple[ValueStatus, ...]  # every column present

    @classmethod
    def of(cls, plans: tuple[_ReadPlan, ...]) -> _Layout:
        join_keys = tuple(dict.fromkeys(plan.view.join_keys for plan in plans))
        columns = tuple(chain.from_iterable(plan.outputs for plan in plans))
        return cls(
            plans=plans,
            columns=columns,
            views=tuple(plan.view.name for plan in plans),
            join_keys=join_keys,
            key_parts=tuple((plan.prefix, join_keys.index(plan.view.join_keys)) for plan in plans),
            whole=_WholeRow.of([p.codec for p in plans])
            if all(p.whole_view for p in plans)
            else None,
            present=(ValueStatus.PRESENT,) * len(columns),
        )


@dataclass(frozen=True, slots=True)
class _WholeRow:
    """Decodes an entity row whose every value is present, fresh and has its strings joined, in
    one go: one struct for the fixed parts of all its views, one loop over all their strings.
    View by view, call for call, the same row takes about a fifth longer."""

    fixed: struct.Struct
    cuts: tuple[tuple[int, int], ...]  # per view: where its fixed part lies in a stored value
    tails: tuple[int, ...]  # per view with strings: where they start in a stored value
    strings_of: tuple[int, ...]  # the views with strings, by index
    string_columns: tuple[int, ...]  # in the row, every string's column
    # Per view: its null bitmap's start and end in a stored value, the bitmap with no null,
    # and its first column in the row.
    nulls: tuple[tuple[int, int, bytes, int], ...]

    @classmethod
    def of(cls, codecs: Sequence[_Codec]) -> _WholeRow:
        cuts, nulls = [], []
        tails: list[int] = []
        strings_of: list[int] = []
        string_columns: list[int] = []
        first_column = 0
        for index, codec in enumerate(codecs):
            nulls_start = _HEADER + codec.fixed.size
            strings_start = nulls_start + (len(codec.dtypes) + 7) // 8
            cuts.append((_HEADER, nulls_start))
            if codec.string_positions:
                tails.append(strings_start)
                strings_of.append(index)
                string_columns += (first_column + p for p in codec.string_positions)
            clear = bytes(strings_start - nulls_start)
            nulls.append((nulls_start, strings_start, clear, first_column))
            first_column += len(codec.dtypes)
        return cls(
            fixed=struct.Struct("<" + "".join(c.fixed.format.lstrip("<") for c in codecs)),
            cuts=tuple(cuts),
            tails=tuple(tails),
            strings_of=tuple(strings_of),
            string_columns=tuple(string_columns),
            nulls=tuple(nulls),
        )

    def decode(self, raws: Sequence[bytes]) -> list[Any]:
        fixed = b"".join([raw[a:b] for raw, (a, b) in zip(raws, self.cuts, strict=True)])
        row = list(self.fixed.unpack(fixed))
        if self.string_columns:
            strings: list[str] = []
            for index, start in zip(self.strings_of, self.tails, strict=True):
                strings += raws[index][start:].decode().split("\x00")
            for column, string in zip(self.string_columns, strings, strict=True):
                row[column] = string
        for raw, (start, end, clear, first) in zip(raws, self.nulls, strict=True):
            if not raw.startswith(clear, start):
                nulls = int.from_bytes(raw[start:end], "little")
                while nulls:
                    lowest = nulls & -nulls
                    row[first + lowest.bit_length() - 1] = None
                    nulls ^= lowest
        return row


class RedisOnlineStore:
    def __init__(
        self,
        client: redis.Redis,
        keys_per_script: int = DEFAULT_KEYS_PER_SCRIPT,
        rows_per_round_trip: int = DEFAULT_ROWS_PER_ROUND_TRIP,
    ) -> None:
        settings = client.get_connection_kwargs()
        if settings.get("decode_responses"):
            raise ValueError("RedisOnlineStore stores bytes: use a client without decode_responses")
        self._client = client
        # Run in a pipeline, a registered script is checked (SCRIPT EXISTS) once per round trip
        # and loaded again if Redis lost it, so NOSCRIPT never reaches the caller.
        self._write_newer = client.register_script(_WRITE_NEWER)
        self._keys_per_script = keys_per_script
        self._rows_per_round_trip = rows_per_round_trip
        self._plans: dict[tuple[str, str, str, tuple[str, ...]], _ReadPlan] = {}
        # Per list of (namespace, view name, version): the layouts last made for it, newest first.
        self._layouts: dict[tuple[tuple[str, str, str], ...], tuple[_Layout, ...]] = {}
        self._where = f"{settings.get('host')}:{settings.get('port')}/{settings.get('db', 0)}"

    @classmethod
    def from_url(cls, url: str) -> RedisOnlineStore:
        # Fail fast rather than back off in here: the caller (kopf, a serving request) decides
        # when to retry. One reconnect covers an idle connection the server closed.
        client = redis.Redis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=5.0, retry=Retry(NoBackoff(), 1)
        )
        return cls(client)

    def write(self, view: ViewDefinition, rows: pa.Table | pa.RecordBatch) -> WriteResult:
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_batches([rows])
        table = _checked_columns(view, table)
        prefix, codec = _prefix(view), _Codec.of(view)
        keep_us = None if view.ttl is None else 2 * (view.ttl // _MICROSECOND)
        written = 0
        try:
            for batch in table.to_batches(max_chunksize=self._rows_per_round_trip):
                written += self._write_batch(prefix, codec, len(view.join_keys), keep_us, batch)
        except _UNAVAILABLE as error:
            raise self._unavailable("write", error) from error
        return WriteResult(rows=table.num_rows, written=written)

    def _write_batch(
        self,
        prefix: str,
        codec: _Codec,
        key_count: int,
        keep_us: int | None,
        batch: pa.RecordBatch,
    ) -> int:
        entities = [column.to_pylist() for column in batch.columns[:key_count]]
        keys = [prefix + _entity_key(entity) for entity in zip(*entities, strict=True)]
        micros = batch.column(key_count).to_pylist()
        values = codec.encode(micros, batch.columns[key_count + 1 :])
        # Keys outlive their ttl by one more ttl: reads meanwhile tell EXPIRED from NOT_FOUND,
        # and Redis's clock never decides the ttl boundary; reads do, against `now`.
        expiries = [] if keep_us is None else [(us + keep_us) // 1000 for us in micros]
        pipe = self._client.pipeline(transaction=False)
        step = self._keys_per_script
        for start in range(0, len(keys), step):
            end = start + step
            self._write_newer(keys[start:end], values[start:end] + expiries[start:end], pipe)
        return sum(pipe.execute())

    def read(
        self,
        entity_rows: Sequence[EntityRow],
        requests: Sequence[OnlineRequest],
        now: dt.datetime,
    ) -> OnlineFeatures:
        layout = self._layout(requests)
        if not entity_rows or not layout.plans:
            rows = range(len(entity_rows))
            return OnlineFeatures(
                columns=layout.columns,
                values=[[] for _ in rows],
                statuses=[[] for _ in rows],
                event_timestamps=[[] for _ in rows],
                views=layout.views,
            )
        keys = _keys(entity_rows, layout)
        try:
            # bytes: the constructor refused clients that decode responses.
            stored = cast(list[bytes | None], self._client.mget(keys))
        except _UNAVAILABLE as error:
            raise self._unavailable("read", error) from error
        return _fill(layout, stored, (now - _EPOCH) // _MICROSECOND)

    def _layout(self, requests: Sequence[OnlineRequest]) -> _Layout:
        # Working out plans and columns costs about as much as a read of wide views. Layouts are
        # keyed by their views alone and then checked: hashing every requested feature name
        # costs more (about 4 ns a name) than checking a few layouts, mostly by identity.
        cache_key = tuple(
            [
                (request.view.namespace, request.view.name, request.view.version)
                for request in requests
            ]
        )
        known = self._layouts.get(cache_key, ())
        for layout in known:
            if all(map(_ReadPlan.serves, layout.plans, requests)):
                return layout
        layout = _Layout.of(tuple(self._plan(request) for request in requests))
        if len(self._layouts) >= _MAX_PLANS:
            self._layouts.clear()
        self._layouts[cache_key] = (layout, *known[: _LAYOUTS_PER_VIEWS - 1])
        return layout

    def _plan(self, request: OnlineRequest) -> _ReadPlan:
        # The same name and version can still differ (stale policy changes in place).
        view = request.view
        cache_key = (view.namespace, view.name, view.version, request.features)
        plan = self._plans.get(cache_key)
        if plan is None or not plan.serves(request):
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[cache_key] = _read_plan(request)
        return plan

    def delete_view(self, view: ViewDefinition) -> int:
        return self._unlink_matching(_prefix(view) + "*", "delete_view")

    def delete_all_versions(self, namespace: str, name: str) -> int:
        return self._unlink_matching(_view_prefix(namespace, name) + "*", "delete_all_versions")

    def _unlink_matching(self, pattern: str, operation: str) -> int:
        removed = 0
        try:
            batch: list[Any] = []
            for key in self._client.scan_iter(match=pattern, count=self._keys_per_script):
                batch.append(key)
                if len(batch) == self._keys_per_script:
                    removed += self._client.unlink(*batch)
                    batch = []
            if batch:
                removed += self._client.unlink(*batch)
        except _UNAVAILABLE as error:
            raise self._unavailable(operation, error) from error
        return removed

    def _unavailable(self, operation: str, error: Exception) -> StoreUnavailableError:
        return StoreUnavailableError(f"Redis at {self._where} did not answer {operation}: {error}")


def _keys(entity_rows: Sequence[EntityRow], layout: _Layout) -> list[str]:
    """Every plan's key for every entity row, row by row: a row's values come back together."""
    entities = [[_entity_key_of(row, keys) for keys in layout.join_keys] for row in entity_rows]
    return [prefix + entity[keys] for entity in entities for prefix, keys in layout.key_parts]


def _fill(layout: _Layout, stored: Sequence[bytes | None], now_us: int) -> OnlineFeatures:
    """Lay the stored values out row by row, judging ttl and freshness against `now_us`."""
    plans, whole = layout.plans, layout.whole
    width = len(plans)
    all_values: list[list[Any]] = []
    all_statuses: list[list[ValueStatus]] = []
    all_stamps: list[list[dt.datetime | None]] = []
    # Values often share an event time (a row's views, a batch's entities): parse each once.
    events: dict[bytes, tuple[int, dt.datetime]] = {}
    for start in range(0, len(stored), width):
        raws = stored[start : start + width]
        stamps: list[dt.datetime | None] = []
        ages: list[int | None] = []
        all_fresh = whole is not None
        for plan, raw in zip(plans, raws, strict=True):
            if raw is None:
                stamps.append(None)
                ages.append(None)
                all_fresh = False
                continue
            digits = raw[:TIMESTAMP_DIGITS]
            event = events.get(digits)
            if event is None:
                event_us = int(digits)
                event = events[digits] = (event_us, _EPOCH + dt.timedelta(microseconds=event_us))
            stamps.append(event[1])
            age_us = now_us - event[0]
            ages.append(age_us)
            if age_us > plan.fresh_limit_us or raw[TIMESTAMP_DIGITS] != _JOINED:
                all_fresh = False
        all_stamps.append(stamps)
        if all_fresh and whole is not None:
            all_values.append(whole.decode(cast(list[bytes], raws)))
            all_statuses.append(list(layout.present))
            continue
        values: list[Any] = []
        statuses: list[ValueStatus] = []
        for plan, raw, age in zip(plans, raws, ages, strict=True):
            if raw is None or age is None:
                values += plan.nones
                statuses += plan.not_found
            elif age > plan.ttl_us:
                values += plan.nones
                statuses += plan.expired
            elif age <= plan.fresh_for_us:
                plan.decode(values, raw)
                statuses += plan.present
            else:
                block, nulled = plan.stale_block(age)
                first = len(values)
                plan.decode(values, raw)
                statuses += block
                for index in nulled:
                    values[first + index] = None
        all_values.append(values)
        all_statuses.append(statuses)
    return OnlineFeatures(layout.columns, all_values, all_statuses, all_stamps, layout.views)


def _read_plan(request: OnlineRequest) -> _ReadPlan:
    view = request.view
    declared = {feature.name: (position, feature) for position, feature in enumerate(view.features)}
    missing = [name for name in request.features if name not in declared]
    if missing:
        raise KeyError(f"FeatureView {view.name} has no feature(s) {', '.join(missing)}")
    requested = [declared[name] for name in request.features]
    slos_us = sorted(
        {
            feature.freshness // _MICROSECOND
            for _, feature in requested
            if feature.freshness is not None  # a zero SLO counts: anything older is stale
        }
    )
    rank_of = {slo_us: rank for rank, slo_us in enumerate(slos_us)}
    width = len(requested)
    positions = [position for position, _ in requested]
    codec = _Codec.of(view)
    ttl_us = _NO_LIMIT if view.ttl is None else view.ttl // _MICROSECOND
    fresh_for_us = slos_us[0] if slos_us else _NO_LIMIT
    return _ReadPlan(
        view=view,
        features=request.features,
        prefix=_prefix(view),
        codec=codec,
        whole_view=positions == list(range(len(view.features))),
        decode=codec.decoder(positions),
        ttl_us=ttl_us,
        fresh_for_us=fresh_for_us,
        fresh_limit_us=min(ttl_us, fresh_for_us),
        outputs=tuple(f"{view.name}__{name}" for name in request.features),
        slos_us=tuple(slos_us),
        slo_ranks=tuple(
            len(slos_us)
            if feature.freshness is None
            else rank_of[feature.freshness // _MICROSECOND]
            for _, feature in requested
        ),
        stale_keeps_value=view.stale_policy is StalePolicy.MARK,
        nones=(None,) * width,
        present=(ValueStatus.PRESENT,) * width,
        expired=(ValueStatus.EXPIRED,) * width,
        not_found=(ValueStatus.NOT_FOUND,) * width,
    )


def _prefix(view: ViewDefinition) -> str:
    return f"{_view_prefix(view.namespace, view.name)}{view.version}:"


def _view_prefix(namespace: str, name: str) -> str:
    """Every version's keys of one FeatureView start so (names hold no `:`, no glob specials)."""
    return f"{KEY_PREFIX}:{namespace}:{name}:"


def _entity_key(values: Iterable[object]) -> str:
    """Type-tagged, strings length-prefixed: 1 and "1" differ, and so do ("a:i2",) and ("a", 2)."""
    return ":".join(map(_key_part, values))


def _key_part(value: object) -> str:
    if type(value) is int:
        return f"i{value}"
    if type(value) is str:
        return f"s{len(value)}:{value}"
    raise TypeError(f"join key values must be int or str, not {type(value).__name__}")


def _entity_key_of(row: EntityRow, join_keys: tuple[str, ...]) -> str:
    try:
        if len(join_keys) == 1:  # the usual case, read per entity row: spare the join
            return _key_part(row[join_keys[0]])
        return _entity_key([row[name] for name in join_keys])
    except KeyError as error:
        raise KeyError(f"an entity row lacks join key {error}: it needs {join_keys}") from None


def _checked_columns(view: ViewDefinition, table: pa.Table) -> pa.Table:
    """The join keys, the event time in epoch microseconds, then each feature as declared."""
    absent = [
        name
        for name in (*view.join_keys, view.timestamp_field, *view.feature_names)
        if name not in table.column_names
    ]
    if absent:
        raise SourceDataError(f"FeatureView {view.name}: rows lack column(s) {', '.join(absent)}")
    columns = [_join_key_column(view, name, table.column(name)) for name in view.join_keys]
    columns.append(_event_micros(view, table.column(view.timestamp_field)))
    for feature in view.features:
        try:
            columns.append(table.column(feature.name).cast(_ARROW_TYPES[feature.dtype]))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
            raise SourceDataError(
                f"FeatureView {view.name}: column {feature.name} is not {feature.dtype}: {error}"
            ) from error
    names = [*view.join_keys, view.timestamp_field, *view.feature_names]
    return pa.table(columns, names=names)


def _join_key_column(view: ViewDefinition, name: str, column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    kind = column.type
    if not (any(is_kind(kind) for is_kind in _KEY_TYPES)):
        raise SourceDataError(
            f"FeatureView {view.name}: join key {name} is {kind}; it must be an integer or a string"
        )
    if column.null_count:
        raise SourceDataError(f"FeatureView {view.name}: join key {name} has null values")
    return column


def _event_micros(view: ViewDefinition, column: pa.ChunkedArray) -> pa.ChunkedArray:
    field = view.timestamp_field
    if not pa.types.is_timestamp(column.type) or column.type.tz is None:
        raise SourceDataError(
            f"FeatureView {view.name}: {field} is {column.type}; it must be a timestamp with a "
            "time zone"
        )
    if column.null_count:
        raise SourceDataError(f"FeatureView {view.name}: {field} has null values")
    options = pc.CastOptions(pa.timestamp("us", column.type.tz), allow_time_truncate=True)
    micros = pc.cast(column, options=options).cast(pa.int64())
    bounds = pc.min_max(micros).as_py()
    if len(micros) and not (bounds["min"] >= 0 and bounds["max"] <= _LAST_MICROSECOND):
        raise SourceDataError(
            f"FeatureView {view.name}: {field} has events outside 1970 to 2286, which the online "
            "store cannot order"
        )
    return micros
