"""`StreamBacklogs` on Redis Streams (7.0+: XINFO GROUPS reports the group's lag)."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from paved.api.streaming_prediction import Backlog
from paved.core.streaming_predictions import stream_time
from paved.errors import StoreUnavailableError


class RedisBacklogs:
    def __init__(self, client: redis.Redis) -> None:
        self._client = client

    @classmethod
    def from_url(cls, url: str) -> RedisBacklogs:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=5.0, retry=Retry(NoBackoff(), 1)
        )
        return cls(client)

    async def backlog(self, stream: str, group: str, now: dt.datetime) -> Backlog:
        try:
            return await asyncio.to_thread(self._backlog, stream, group, now)
        except (redis.ConnectionError, redis.TimeoutError) as error:
            raise StoreUnavailableError(f"stream {stream} cannot be read: {error}") from error

    def _backlog(self, stream: str, group: str, now: dt.datetime) -> Backlog:
        info = self._group(stream, group)
        if info is None:  # no worker has made the group yet: everything is unread
            first = self._first_after(stream, "-")
            oldest = None if first is None else _age(first, now)
            return Backlog(lag=int(self._client.xlen(stream)), oldest_seconds=oldest, at=now)
        lag = info.get("lag")
        pending = int(info.get("pending") or 0)
        candidates = []
        if pending:
            summary: Any = self._client.xpending(stream, group)
            if summary["min"] is not None:  # acknowledged since XINFO: nothing pending now
                candidates.append(_text(summary["min"]))
        if lag is None or int(lag) > 0:
            unread = self._first_after(stream, "(" + _text(info["last-delivered-id"]))
            candidates += [unread] if unread is not None else []
        ages = [_age(entry_id, now) for entry_id in candidates]
        read = info.get("entries-read")
        return Backlog(
            lag=None if lag is None else int(lag),
            pending=pending,
            oldest_seconds=max(ages) if ages else None,
            entries_read=None if read is None else int(read),
            at=now,
        )

    def _group(self, stream: str, group: str) -> dict[str, Any] | None:
        try:
            groups: Any = self._client.xinfo_groups(stream)
        except redis.ResponseError:  # no such stream yet
            return None
        return next((g for g in groups if _text(g["name"]) == group), None)

    def _first_after(self, stream: str, start: str) -> str | None:
        entries: Any = self._client.xrange(stream, min=start, max="+", count=1)
        return _text(entries[0][0]) if entries else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _age(entry_id: str, now: dt.datetime) -> float:
    return max(0.0, round((now - stream_time(entry_id)).total_seconds(), 3))
