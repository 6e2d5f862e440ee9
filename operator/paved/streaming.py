"""Stream ingestion: a Redis Streams consumer group that pushes rows into a FeatureView.

Each namespace's FeatureView has its own stream, `paved:stream:<namespace>:<view>`.

At-least-once: an entry is acknowledged only after its rows are written offline and online;
entries a crashed consumer left pending are claimed again. Idempotent by event time: the
online store keeps only newer values, and a row appended offline twice changes no join result.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import redis

from paved.features import FeatureStore, rows_to_table

ROW_FIELD: Final = b"row"
_CLAIM_IDLE_MS: Final = 30_000


def stream_key(namespace: str, view: str) -> str:
    """A namespace's FeatureView's stream: two namespaces' views of one name have two."""
    return f"paved:stream:{namespace}:{view}"


def dead_letter_key(namespace: str, view: str) -> str:
    """Where entries that cannot be rows of the view go, with the reason: kept, not retried."""
    return f"{stream_key(namespace, view)}:dead-letter"


def publish(
    client: redis.Redis, view: str, rows: Sequence[Mapping[str, Any]], *, namespace: str
) -> list[str]:
    """Producer side: one stream entry per row (a JSON object, timestamps in ISO 8601)."""
    key = stream_key(namespace, view)
    pipeline = client.pipeline(transaction=False)
    for row in rows:
        pipeline.xadd(key, {ROW_FIELD: json.dumps(row, default=str)})
    return [
        entry.decode() if isinstance(entry, bytes) else str(entry) for entry in pipeline.execute()
    ]


class StreamConsumer:
    def __init__(
        self,
        store: FeatureStore,
        client: redis.Redis,
        view: str,
        consumer: str,
        group: str = "paved",
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._store, self._client, self._view = store, client, view
        self._consumer, self._group, self._clock = consumer, group, clock
        # The store's namespace: the consumer pushes into that namespace's view only.
        self._key = stream_key(store.namespace, view)
        try:
            client.xgroup_create(self._key, group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    def _entries(self, count: int, block_ms: int) -> list[tuple[bytes, dict[bytes, bytes]]]:
        # Entries another consumer took and never acknowledged come first.
        claimed: Any = self._client.xautoclaim(
            self._key, self._group, self._consumer, _CLAIM_IDLE_MS, "0-0", count=count
        )
        if claimed[1]:
            return list(claimed[1])
        answer: Any = self._client.xreadgroup(
            self._group, self._consumer, {self._key: ">"}, count=count, block=block_ms
        )
        return list(answer[0][1]) if answer else []

    def consume_once(self, count: int = 500, block_ms: int = 1000) -> int:
        """Read up to `count` entries, push their rows, acknowledge them; return how many."""
        entries = self._entries(count, block_ms)
        if not entries:
            return 0
        try:
            self._push([fields for _, fields in entries])
        except ValueError:
            # One bad entry must not hold up the others forever: push them one by one.
            for _, fields in entries:
                try:
                    self._push([fields])
                except ValueError as error:
                    parked: dict[Any, Any] = {**fields, b"error": str(error).encode()}
                    self._client.xadd(dead_letter_key(self._store.namespace, self._view), parked)
        self._client.xack(self._key, self._group, *[entry_id for entry_id, _ in entries])
        return len(entries)

    def _push(self, entries: Sequence[Mapping[bytes, bytes]]) -> None:
        try:
            rows = [json.loads(fields[ROW_FIELD]) for fields in entries]
        except (KeyError, json.JSONDecodeError) as error:
            raise ValueError(f"not a JSON row: {error}") from error
        view = self._store.view(self._view)
        self._store.push(self._view, rows_to_table(view, rows), self._clock())
