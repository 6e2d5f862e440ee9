"""Where kopf meets paved: bodies become models, results become one status patch, and paved's
errors become kopf's retry policy. Handlers registered with `timer` never see kopf.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import kopf
from pydantic import BaseModel, ValidationError

from paved.api.crds import KINDS, PROMOTION_POLICY, Kind
from paved.api.meta import GROUP, VERSION, Status
from paved.core.conditions import Observation, flipped, report
from paved.core.failures import backoff_seconds, failure
from paved.core.references import invalid_spec
from paved.errors import TransientError
from paved.observability import RECONCILE_SECONDS, RECONCILES
from paved.ports import Ports


@dataclass(frozen=True)
class Resource:
    """One paved object as a handler sees it: parsed, validated, typed."""

    kind: str
    namespace: str
    name: str
    uid: str
    generation: int
    spec: Any
    status: Status
    annotations: Mapping[str, str] = field(default_factory=dict)
    created: str = ""  # metadata.creationTimestamp: RFC 3339, so it orders as text


@dataclass(frozen=True)
class Reconciled:
    """What a handler concluded: conditions to set, and whether to look again soon."""

    observed: Sequence[Observation]
    retry_after_seconds: float | None = None
    retry_reason: str = ""
    status_updates: dict[str, Any] = field(default_factory=dict)


Handler = Callable[[Resource, Ports, dt.datetime], Awaitable[Reconciled]]


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def _validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
    )


# Timers are level-triggered: each tick re-reads the object and decides again, so nothing is
# lost across operator restarts. The core decides whether work is due at each tick.
TIMER_SECONDS = 5.0


# -- paved objects, as kopf's watches saw them ------------------------------------------------
#
# The operator watches every paved kind anyway (it reconciles them). kopf keeps an in-memory
# index of each from those watches and fills it before any handler runs, so handlers look
# paved objects up there (`ports.cluster`): as fresh as the watch, and no API request. With
# hundreds of Rollouts, a request per lookup per tick was most of the operator's API traffic.

# Each kind's index holds every object under two keys: its namespace (all of them there) and
# (namespace, name) (that one).
INDEX_IDS: Final = {kind.kind: f"paved_{kind.plural}" for kind in (*KINDS, PROMOTION_POLICY)}

Index = Mapping[Any, Iterable[dict[str, Any]]]


class WatchedCluster:
    """`Cluster` over kopf's indices of the paved kinds."""

    def __init__(self, indices: Mapping[str, Index]) -> None:
        self._indices = indices

    def _index(self, kind: str) -> Index:
        return self._indices.get(INDEX_IDS[kind]) or {}

    async def get_paved(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return next(iter(self._index(kind).get((namespace, name), ())), None)

    async def list_paved(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        return list(self._index(kind).get(namespace, ()))

    async def promotion_policies(self) -> list[dict[str, Any]]:
        return list(self._index(PROMOTION_POLICY.kind).get("", ()))


def snapshot(body: Mapping[str, Any]) -> dict[str, Any]:
    """What the index keeps of an object: a copy, since kopf's body is a live view."""
    metadata = body.get("metadata") or {}
    return {
        "metadata": {
            key: _copy(metadata[key])
            for key in ("name", "namespace", "creationTimestamp", "generation", "annotations")
            if key in metadata
        },
        "spec": _copy(body.get("spec") or {}),
        "status": _copy(body.get("status") or {}),
    }


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _indexed(body: kopf.Body, **_: Any) -> dict[Any, dict[str, Any]]:
    seen = snapshot(body)
    namespace = body.metadata.namespace or ""
    return {namespace: seen, (namespace, body.metadata.name or ""): seen}


for _kind in (*KINDS, PROMOTION_POLICY):
    kopf.index(GROUP, VERSION, _kind.plural, id=INDEX_IDS[_kind.kind])(_indexed)


def timer(*kinds: Kind, interval: float = TIMER_SECONDS) -> Callable[[Handler], Handler]:
    """Register `handler` to run every `interval` seconds for every object of each kind."""

    def register(handler: Handler) -> Handler:
        for kind in kinds:
            kopf.timer(GROUP, VERSION, kind.plural, id=handler.__name__, interval=interval)(
                _adapt(kind, handler)
            )
        return handler

    return register


def _adapt(kind: Kind, handler: Handler) -> Callable[..., Awaitable[None]]:
    async def handle(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any) -> None:
        now = dt.datetime.now(dt.UTC)
        generation = int(body.metadata.get("generation") or 0)
        # Failures in a row, counted here: kopf's `retry` also counts outages and asked-for
        # retries, and an outage must not lengthen the pause after the next failure.
        failures = int(memo.get(_FAILURES) or 0) + 1
        delay = backoff_seconds(failures)
        empty = kind.status()
        assert isinstance(empty, Status)
        seen: Status = empty
        before: Status = empty
        with RECONCILE_SECONDS.labels(kind.kind).time():
            try:
                read = kind.status.model_validate(body.get("status") or {})
                assert isinstance(read, Status)
                seen = read
                before = _as_written(seen, body, memo)
                try:
                    spec = kind.spec.model_validate(body.get("spec") or {})
                except ValidationError as error:
                    observed = invalid_spec(_validation_message(error))
                    memo[_FAILURES] = failures
                    RECONCILES.labels(kind.kind, "failed").inc()
                    raise _failed(
                        body, patch, memo, _Failure(seen, before, observed, generation, now, delay)
                    ) from error
                resource = Resource(
                    kind.kind, body.metadata.namespace or "", body.metadata.name or "",
                    body.metadata.uid or "", generation, spec, before,
                    dict(body.metadata.annotations),
                    str(body.metadata.get("creationTimestamp") or ""),
                )  # fmt: skip
                # Lookups of paved objects come from kopf's indices (kwargs), not the API.
                ports = replace(memo["ports"], cluster=WatchedCluster(kwargs))
                result = await handler(resource, ports, now)
                after = report(before, result.observed, generation, now)
                if result.status_updates:
                    after = type(after).model_validate(after.model_dump() | result.status_updates)
                _write(body, patch, memo, seen, before, after)
                memo[_FAILURES] = 0
            except TransientError as error:
                memo[_FAILURES] = 0
                RECONCILES.labels(kind.kind, "retry").inc()
                raise kopf.TemporaryError(str(error), delay=error.retry_after_seconds) from error
            except kopf.TemporaryError:
                raise  # reported already
            except Exception as error:
                # A PermanentError, or anything unexpected (a bug, a library failing on bad
                # data, a status the schema would refuse): a condition and a Warning event say
                # so on the resource, never the operator's log alone.
                memo[_FAILURES] = failures
                RECONCILES.labels(kind.kind, "failed").inc()
                observed = failure(kind.kind, error)
                raise _failed(
                    body, patch, memo, _Failure(seen, before, observed, generation, now, delay)
                ) from error
        if result.retry_after_seconds is not None:
            RECONCILES.labels(kind.kind, "retry").inc()
            raise kopf.TemporaryError(result.retry_reason, delay=result.retry_after_seconds)
        RECONCILES.labels(kind.kind, "ok").inc()

    return handle


# A deletion's clean-up: the object being deleted, the ports, and how many attempts failed before.
Cleanup = Callable[[Resource, Ports, int], Awaitable[Reconciled]]


def on_delete(*kinds: Kind) -> Callable[[Cleanup], Cleanup]:
    """Register `handler` to run when an object of each kind is deleted. kopf's finalizer keeps
    the object until the handler returns without a retry; with one, its conditions are written
    (an event when one flips) and it runs again after the delay it asked for."""

    def register(handler: Cleanup) -> Cleanup:
        for kind in kinds:
            kopf.on.delete(GROUP, VERSION, kind.plural, id=handler.__name__)(
                _adapt_deletion(kind, handler)
            )
        return handler

    return register


def _adapt_deletion(kind: Kind, handler: Cleanup) -> Callable[..., Awaitable[None]]:
    async def handle(
        body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, retry: int, **_: Any
    ) -> None:
        now = dt.datetime.now(dt.UTC)
        generation = int(body.metadata.get("generation") or 0)
        seen = kind.status.model_validate(body.get("status") or {})
        assert isinstance(seen, Status)
        before = _as_written(seen, body, memo)
        # The spec stays unparsed: what is cleaned up is keyed by the object's name alone, and
        # a spec today's models refuse must not keep its data for ever.
        resource = Resource(
            kind=kind.kind,
            namespace=body.metadata.namespace or "",
            name=body.metadata.name or "",
            uid=body.metadata.uid or "",
            generation=generation,
            spec=body.get("spec"),
            status=before,
        )
        result = await handler(resource, memo["ports"], retry)
        if result.retry_after_seconds is None:
            for done in result.observed:
                kopf.event(body, type="Normal", reason=done.reason, message=done.message)
            return
        _write(body, patch, memo, seen, before, report(before, result.observed, generation, now))
        raise kopf.TemporaryError(result.retry_reason, delay=result.retry_after_seconds)

    return handle


@dataclass(frozen=True)
class _Failure:
    """A reconcile that failed: the status it started from, what to report, and when to retry."""

    seen: Status  # as the body shows it
    before: Status  # what the reconcile started from (perhaps a write not delivered yet)
    observed: Observation
    generation: int
    now: dt.datetime
    delay: float


def _failed(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, failure: _Failure
) -> kopf.TemporaryError:
    """Write the failure's condition over the status the reconcile started from (so nothing
    half-decided is written), with a Warning event when it is news, and the error that makes
    kopf try again after the backoff. A temporary error for kopf: a permanent one would retry
    at the timer's pace, every few seconds, for ever."""
    seen, before, observed = failure.seen, failure.before, failure.observed
    patch.pop("status", None)  # whatever the failed reconcile had started to write
    after = report(before, [observed], failure.generation, failure.now)
    (written,) = (c for c in after.conditions if c.type == observed.type)
    previous = next((c for c in before.conditions if c.type == observed.type), None)
    _write(body, patch, memo, seen, before, after)
    if (
        previous is not None
        and previous.status == written.status
        and ((previous.reason, previous.message) != (written.reason, written.message))
    ):
        # Still failing, for another reason: `_write` only tells of flips.
        kopf.event(body, type="Warning", reason=written.reason, message=written.message)
    return kopf.TemporaryError(f"{written.reason}: {written.message}", delay=failure.delay)


def status_patch(before: Status, after: Status) -> dict[str, Any]:
    """The merge patch from `before` to `after`: a field that went away is sent as null, since a
    merge patch that leaves a field out leaves it as it was (a step's start time would outlive
    its step)."""
    patch = _dump(after)
    for gone in _dump(before).keys() - patch.keys():
        patch[gone] = None
    return patch


@dataclass(frozen=True)
class _Written:
    """The status this operator last wrote for an object, and the object's version then."""

    based_on: str  # metadata.resourceVersion of the body the write was decided on
    status: Status


_WRITTEN = "paved_written"  # in kopf's per-object memo
_FAILURES = "paved_failures"  # failed reconciles in a row, in kopf's per-object memo


def _as_written(seen: Status, body: kopf.Body, memo: kopf.Memo) -> Status:
    """The object's status as it really is. kopf hands timers the last body its watch delivered,
    and a busy API server delivers a status write seconds later: until then the body is the one
    the last decision was taken on, and the status is what that decision wrote. Taking the body
    at its word made a Rollout act twice on one step (an analysis, a step start, an event)."""
    written = memo.get(_WRITTEN)
    if isinstance(written, _Written) and written.based_on == body.metadata.get("resourceVersion"):
        return written.status
    return seen


def _write(
    body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, seen: Status, before: Status,
    after: Status,
) -> None:  # fmt: skip
    """One status patch per reconcile that changed it, and an event per flipped condition.

    The patch leads from what the body shows (`seen`) as well as from the status the decision
    started from (`before`, perhaps a write not delivered yet): if that write was lost, this
    one carries it again."""
    if after == seen and after == before:
        return
    patch.status.update(status_patch(seen, after) | status_patch(before, after))
    memo[_WRITTEN] = _Written(str(body.metadata.get("resourceVersion") or ""), after)
    for condition in flipped(before.conditions, after.conditions):
        kopf.event(
            body,
            type="Normal" if condition.status == "True" else "Warning",
            reason=condition.reason,
            message=condition.message,
        )
