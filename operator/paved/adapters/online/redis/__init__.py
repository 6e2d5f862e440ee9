"""`OnlineStore` on Redis, one module a job.

- `keys`: the key scheme, `pv:<namespace>:<view>:<version>:<entity>`.
- `codec`: a stored value's bytes (event time first, then the features typed binary).
- `columns`: what a write accepts, checked before anything is written.
- `plans`: how a read lays stored values out, judged by `paved.core.online_values`.
- `store`: `RedisOnlineStore`, the client: newer-only writes, one MGET a read, deletion.
"""

from paved.adapters.online.redis.store import RedisOnlineStore

__all__ = ["RedisOnlineStore"]
