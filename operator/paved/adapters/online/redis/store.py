"""`OnlineStore` on Redis: one string key per (view, version, entity) holds all the view's values.

A write is a Lua script per batch of keys that keeps only newer events (`codec`'s event-time
digits compare as strings); a read is one MGET for every key of the call, laid out by cached
plans (`plans`) and judged against the caller's `now` by the core's rule, never Redis's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Final, cast

import pyarrow as pa
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from paved.adapters.online.redis.codec import Codec
from paved.adapters.online.redis.columns import checked_columns
from paved.adapters.online.redis.keys import entity_key, version_prefix, view_prefix
from paved.adapters.online.redis.plans import EPOCH, Layout, ReadPlan, fill
from paved.core.feature_views import ViewDefinition
from paved.core.online_values import retention_us
from paved.errors import StoreUnavailableError
from paved.ports.online import EntityRow, OnlineFeatures, OnlineRequest, WriteResult

DEFAULT_KEYS_PER_SCRIPT: Final = 500
DEFAULT_ROWS_PER_ROUND_TRIP: Final = 10_000

_MICROSECOND: Final = dt.timedelta(microseconds=1)
_MAX_PLANS: Final = 1024
_LAYOUTS_PER_VIEWS: Final = 8  # feature lists kept per list of views; beyond, the oldest goes
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
        self._plans: dict[tuple[str, str, str, tuple[str, ...]], ReadPlan] = {}
        # Per list of (namespace, view name, version): the layouts last made for it, newest first.
        self._layouts: dict[tuple[tuple[str, str, str], ...], tuple[Layout, ...]] = {}
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
        table = checked_columns(view, table)
        prefix, codec = version_prefix(view), Codec.of(view)
        keep_us = retention_us(view)
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
        codec: Codec,
        key_count: int,
        keep_us: int | None,
        batch: pa.RecordBatch,
    ) -> int:
        entities = [column.to_pylist() for column in batch.columns[:key_count]]
        keys = [prefix + entity_key(entity) for entity in zip(*entities, strict=True)]
        micros = batch.column(key_count).to_pylist()
        values = codec.encode(micros, batch.columns[key_count + 1 :])
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
            return layout.empty(len(entity_rows))
        keys = layout.keys(entity_rows)
        try:
            # bytes: the constructor refused clients that decode responses.
            stored = cast(list[bytes | None], self._client.mget(keys))
        except _UNAVAILABLE as error:
            raise self._unavailable("read", error) from error
        return fill(layout, stored, (now - EPOCH) // _MICROSECOND)

    def _layout(self, requests: Sequence[OnlineRequest]) -> Layout:
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
            if all(map(ReadPlan.serves, layout.plans, requests)):
                return layout
        layout = Layout.of(tuple(self._plan(request) for request in requests))
        if len(self._layouts) >= _MAX_PLANS:
            self._layouts.clear()
        self._layouts[cache_key] = (layout, *known[: _LAYOUTS_PER_VIEWS - 1])
        return layout

    def _plan(self, request: OnlineRequest) -> ReadPlan:
        # The same name and version can still differ (stale policy changes in place).
        view = request.view
        cache_key = (view.namespace, view.name, view.version, request.features)
        plan = self._plans.get(cache_key)
        if plan is None or not plan.serves(request):
            if len(self._plans) >= _MAX_PLANS:
                self._plans.clear()
            plan = self._plans[cache_key] = ReadPlan.of(request)
        return plan

    def delete_view(self, view: ViewDefinition) -> int:
        return self._unlink_matching(version_prefix(view) + "*", "delete_view")

    def delete_all_versions(self, namespace: str, name: str) -> int:
        return self._unlink_matching(view_prefix(namespace, name) + "*", "delete_all_versions")

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
