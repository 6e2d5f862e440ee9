"""Where kopf meets paved: bodies become models, results become one status patch, and paved's
errors become kopf's retry policy. Handlers registered with `timer` never see kopf.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import kopf
from pydantic import BaseModel, ValidationError

from paved.api.crds import Kind
from paved.api.meta import GROUP, VERSION, Status
from paved.core.conditions import Observation, flipped, report
from paved.core.references import invalid_spec
from paved.errors import PermanentError, TransientError
from paved.observability import RECONCILE_SECONDS, RECONCILES
from paved.ports import Ports


@dataclass(frozen=True)
class Peer:
    """Another object of the same kind in the same namespace, as the watch last delivered it."""

    name: str
    created: str  # metadata.creationTimestamp: RFC 3339, so it orders as text
    spec: Mapping[str, Any]
    status: Mapping[str, Any]


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
    peers: Sequence[Peer] = ()  # only for kinds registered with `timer(..., peers=True)`


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


def timer(
    *kinds: Kind, interval: float = TIMER_SECONDS, peers: bool = False
) -> Callable[[Handler], Handler]:
    """Register `handler` to run every `interval` seconds for every object of each kind.

    With `peers`, each call also sees the kind's other objects in the namespace. They come from
    an in-memory index kopf keeps from the watch it runs anyway, not from a list per call: a
    list per object per tick grows with the square of the objects."""

    def register(handler: Handler) -> Handler:
        for kind in kinds:
            index = f"{kind.plural}_by_namespace" if peers else None
            if index is not None:
                kopf.index(GROUP, VERSION, kind.plural, id=index)(_as_peer)
            kopf.timer(GROUP, VERSION, kind.plural, id=handler.__name__, interval=interval)(
                _adapt(kind, handler, index)
            )
        return handler

    return register


def _as_peer(body: kopf.Body, **_: Any) -> dict[str, Peer]:
    # A copy: the body is kopf's live view, and the index must hold what was seen.
    return {
        body.metadata.namespace or "": Peer(
            body.metadata.name or "",
            str(body.metadata.get("creationTimestamp") or ""),
            copy.deepcopy(dict(body.get("spec") or {})),
            copy.deepcopy(dict(body.get("status") or {})),
        )
    }


def _adapt(kind: Kind, handler: Handler, index: str | None) -> Callable[..., Awaitable[None]]:
    async def handle(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any) -> None:
        now = dt.datetime.now(dt.UTC)
        generation = int(body.metadata.get("generation") or 0)
        before = kind.status.model_validate(body.get("status") or {})
        assert isinstance(before, Status)
        with RECONCILE_SECONDS.labels(kind.kind).time():
            try:
                spec = kind.spec.model_validate(body.get("spec") or {})
            except ValidationError as error:
                observed = [invalid_spec(_validation_message(error))]
                _write(body, patch, before, report(before, observed, generation, now))
                RECONCILES.labels(kind.kind, "failed").inc()
                raise kopf.PermanentError(observed[0].message) from error
            resource = Resource(
                kind.kind, body.metadata.namespace or "", body.metadata.name or "",
                body.metadata.uid or "", generation, spec, before,
                dict(body.metadata.annotations),
                str(body.metadata.get("creationTimestamp") or ""),
                _peers(kwargs, index, body.metadata.namespace or ""),
            )  # fmt: skip
            try:
                result = await handler(resource, memo["ports"], now)
            except TransientError as error:
                RECONCILES.labels(kind.kind, "retry").inc()
                raise kopf.TemporaryError(str(error), delay=error.retry_after_seconds) from error
            except PermanentError as error:
                RECONCILES.labels(kind.kind, "failed").inc()
                raise kopf.PermanentError(str(error)) from error
        after = report(before, result.observed, generation, now)
        if result.status_updates:
            after = type(after).model_validate(after.model_dump() | result.status_updates)
        _write(body, patch, before, after)
        if result.retry_after_seconds is not None:
            RECONCILES.labels(kind.kind, "retry").inc()
            raise kopf.TemporaryError(result.retry_reason, delay=result.retry_after_seconds)
        RECONCILES.labels(kind.kind, "ok").inc()

    return handle


def _peers(kwargs: Mapping[str, Any], index: str | None, namespace: str) -> tuple[Peer, ...]:
    if index is None:
        return ()
    peers: kopf.Index[str, Peer] = kwargs[index]
    return tuple(peers.get(namespace, ()))


def status_patch(before: Status, after: Status) -> dict[str, Any]:
    """The merge patch from `before` to `after`: a field that went away is sent as null, since a
    merge patch that leaves a field out leaves it as it was (a step's start time would outlive
    its step)."""
    patch = _dump(after)
    for gone in _dump(before).keys() - patch.keys():
        patch[gone] = None
    return patch


def _write(body: kopf.Body, patch: kopf.Patch, before: Status, after: Status) -> None:
    """One status patch per reconcile that changed it, and an event per flipped condition."""
    if after == before:
        return
    patch.status.update(status_patch(before, after))
    for condition in flipped(before.conditions, after.conditions):
        kopf.event(
            body,
            type="Normal" if condition.status == "True" else "Warning",
            reason=condition.reason,
            message=condition.message,
        )
