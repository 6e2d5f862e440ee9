"""Where kopf meets paved: bodies become models, results become one status patch, and paved's
errors become kopf's retry policy. Handlers registered with `timer` never see kopf.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

import kopf
from pydantic import BaseModel, ValidationError

from paved.api.batch_prediction import BatchPredictionStatus
from paved.api.crds import (
    BATCH_PREDICTION,
    FEATURE_VIEW,
    KINDS,
    MODEL_VERSION,
    PROMOTION_POLICY,
    ROLLOUT,
    Kind,
    SpecT,
    StatusT,
)
from paved.api.feature_view import FeatureViewStatus
from paved.api.meta import GROUP, VERSION, Status
from paved.api.model_version import ModelVersionStatus
from paved.api.promotion_policy import PromotionPolicyStatus
from paved.api.rollout import RolloutStatus
from paved.core.conditions import Observation, event_type, flipped, report
from paved.core.failures import backoff_seconds, failure
from paved.core.references import invalid_spec
from paved.errors import TransientError
from paved.observability import RECONCILE_SECONDS, RECONCILES
from paved.ports import Ports
from paved.ports.cluster import (
    BatchPrediction,
    FeatureView,
    Found,
    ModelVersion,
    PromotionPolicy,
    Rollout,
    Unreadable,
)


@dataclass(frozen=True, kw_only=True)
class Resource(Found[SpecT, StatusT]):
    """One paved object as a handler sees it: parsed, validated, typed, and where it is."""

    kind: str
    namespace: str
    uid: str
    generation: int


@dataclass(frozen=True)
class Reconciled:
    """What a handler concluded: conditions to set, and whether to look again soon."""

    observed: Sequence[Observation]
    retry_after_seconds: float | None = None
    retry_reason: str = ""
    status_updates: Mapping[str, Any] = field(default_factory=dict)
    # The handler's status (conditions aside); None: the one it started from.
    status: Status | None = None


Handler = Callable[[Resource[SpecT, StatusT], Ports, dt.datetime], Awaitable[Reconciled]]


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(by_alias=True, mode="json", exclude_none=True)


def _validation_message(error: ValidationError) -> str:
    return "; ".join(
        f"spec.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
    )


# Timers are level-triggered: each tick re-reads the object and decides again, so nothing is
# lost across operator restarts. The core decides whether work is due at each tick.
TIMER_SECONDS = 5.0
# What the operator did, as it tells the objects (their Events): logged at INFO (`wiring.run`).
EVENTS: Final = logging.getLogger("paved.events")


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
    """`Cluster` over kopf's indices of the paved kinds: objects parsed by their kind's models."""

    def __init__(self, indices: Mapping[str, Index]) -> None:
        self._indices = indices

    def _index(self, kind: str) -> Index:
        return self._indices.get(INDEX_IDS[kind]) or {}

    def _one(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        return next(iter(self._index(kind).get((namespace, name), ())), None)

    async def exists(self, kind: str, namespace: str, name: str) -> bool:
        return self._one(kind, namespace, name) is not None

    async def created(self, kind: str, namespace: str, name: str) -> str | None:
        found = self._one(kind, namespace, name)
        if found is None:
            return None
        return str((found.get("metadata") or {}).get("creationTimestamp", ""))

    async def feature_view(
        self, namespace: str, name: str
    ) -> FeatureView | Unreadable[FeatureViewStatus] | None:
        found = self._one(FEATURE_VIEW.kind, namespace, name)
        return None if found is None else parsed(FEATURE_VIEW, found)

    async def model_version(
        self, namespace: str, name: str
    ) -> ModelVersion | Unreadable[ModelVersionStatus] | None:
        found = self._one(MODEL_VERSION.kind, namespace, name)
        return None if found is None else parsed(MODEL_VERSION, found)

    async def batch_prediction(
        self, namespace: str, name: str
    ) -> BatchPrediction | Unreadable[BatchPredictionStatus] | None:
        found = self._one(BATCH_PREDICTION.kind, namespace, name)
        return None if found is None else parsed(BATCH_PREDICTION, found)

    async def rollouts(self, namespace: str) -> list[Rollout | Unreadable[RolloutStatus]]:
        return [parsed(ROLLOUT, found) for found in self._index(ROLLOUT.kind).get(namespace, ())]

    async def promotion_policies(
        self,
    ) -> list[PromotionPolicy | Unreadable[PromotionPolicyStatus]]:
        found = self._index(PROMOTION_POLICY.kind).get("", ())
        return [parsed(PROMOTION_POLICY, policy) for policy in found]


def parsed(
    kind: Kind[SpecT, StatusT], body: Mapping[str, Any]
) -> Found[SpecT, StatusT] | Unreadable[StatusT]:
    """An indexed object as its kind's models read it; what they refuse, with how much."""
    metadata = body.get("metadata") or {}
    name = str(metadata.get("name", ""))
    try:
        status = kind.status.model_validate(body.get("status") or {})
    except ValidationError as error:
        return Unreadable(name, f"{error.error_count()} invalid fields")
    try:
        spec = kind.spec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        return Unreadable(name, f"{error.error_count()} invalid fields", status)
    annotations = dict(metadata.get("annotations") or {})
    created = str(metadata.get("creationTimestamp", ""))
    return Found(name, spec, status, annotations, created)


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


def timer(
    kind: Kind[SpecT, StatusT], interval: float = TIMER_SECONDS
) -> Callable[[Handler[SpecT, StatusT]], Handler[SpecT, StatusT]]:
    """Register `handler` to run every `interval` seconds for every object of `kind`."""

    def register(handler: Handler[SpecT, StatusT]) -> Handler[SpecT, StatusT]:
        kopf.timer(GROUP, VERSION, kind.plural, id=handler.__name__, interval=interval)(
            _adapt(kind, handler)
        )
        return handler

    return register


def _adapt(
    kind: Kind[SpecT, StatusT], handler: Handler[SpecT, StatusT]
) -> Callable[..., Awaitable[None]]:
    async def handle(body: kopf.Body, patch: kopf.Patch, memo: kopf.Memo, **kwargs: Any) -> None:
        # Failures in a row, counted here: kopf's `retry` also counts outages and asked-for
        # retries, and an outage must not lengthen the pause after the next failure.
        failures = int(memo.get(_FAILURES) or 0) + 1
        call = _Call(body, patch, memo, kwargs, dt.datetime.now(dt.UTC), failures)
        with RECONCILE_SECONDS.labels(kind.kind).time():
            result = await _reconcile(kind, handler, call)
        if result.retry_after_seconds is not None:
            RECONCILES.labels(kind.kind, "retry").inc()
            raise kopf.TemporaryError(result.retry_reason, delay=result.retry_after_seconds)
        RECONCILES.labels(kind.kind, "ok").inc()

    return handle


@dataclass(frozen=True)
class _Call:
    """One timer call from kopf: the object, where its status goes, and when."""

    body: kopf.Body
    patch: kopf.Patch
    memo: kopf.Memo
    indices: Mapping[str, Index]  # kopf's indices of the paved kinds, by id
    now: dt.datetime
    failures: int  # failed reconciles in a row, this one included should it fail

    @property
    def generation(self) -> int:
        return int(self.body.metadata.get("generation") or 0)


class _SpecRefusedError(Exception):
    """The spec does not parse: what the models say is wrong with it."""


async def _reconcile(
    kind: Kind[SpecT, StatusT], handler: Handler[SpecT, StatusT], call: _Call
) -> Reconciled:
    """Parse, run the handler, and write its status; a failure becomes a condition."""
    seen: Status = kind.status()
    before: Status = seen
    try:
        read = kind.status.model_validate(call.body.get("status") or {})
        current = _as_written(read, call.body, call.memo)
        seen, before = read, current
        resource = _resource(kind, call.body, current)
        # Lookups of paved objects come from kopf's indices, not the API.
        ports = replace(call.memo["ports"], cluster=WatchedCluster(call.indices))
        result = await handler(resource, ports, call.now)
        _write(call.body, call.patch, call.memo, seen, before, _after(before, result, call))
        call.memo[_FAILURES] = 0
        return result
    except TransientError as error:
        call.memo[_FAILURES] = 0
        RECONCILES.labels(kind.kind, "retry").inc()
        raise kopf.TemporaryError(str(error), delay=error.retry_after_seconds) from error
    except Exception as error:
        # A PermanentError, or anything unexpected (a bug, a library failing on bad data, a
        # status the schema would refuse): a condition and a Warning event say so on the
        # resource, never the operator's log alone.
        call.memo[_FAILURES] = call.failures
        RECONCILES.labels(kind.kind, "failed").inc()
        refused = isinstance(error, _SpecRefusedError)
        observed = invalid_spec(str(error)) if refused else failure(kind.kind, error)
        delay = backoff_seconds(call.failures)
        failed = _Failure(seen, before, observed, call.generation, call.now, delay)
        raise _failed(call.body, call.patch, call.memo, failed) from error


def _resource(
    kind: Kind[SpecT, StatusT], body: kopf.Body, status: StatusT
) -> Resource[SpecT, StatusT]:
    try:
        spec = kind.spec.model_validate(body.get("spec") or {})
    except ValidationError as error:
        raise _SpecRefusedError(_validation_message(error)) from error
    return Resource(
        body.metadata.name or "",
        spec,
        status,
        dict(body.metadata.annotations),
        str(body.metadata.get("creationTimestamp") or ""),
        kind=kind.kind,
        namespace=body.metadata.namespace or "",
        uid=body.metadata.uid or "",
        generation=int(body.metadata.get("generation") or 0),
    )


def _after(before: Status, result: Reconciled, call: _Call) -> Status:
    """The status to write: the handler's (or the one it started from) with its conditions."""
    base = result.status if result.status is not None else before
    after = report(base, result.observed, generation=call.generation, now=call.now)
    if result.status is None and not result.status_updates:
        return after
    # Validated as the API server will: a status it would refuse fails here, with why.
    return type(after).model_validate(after.model_dump() | dict(result.status_updates))


# A deletion's clean-up: the object being deleted, the ports, and how many attempts failed before.
Cleanup = Callable[[Resource[Any, Any], Ports, int], Awaitable[Reconciled]]


def on_delete(*kinds: Kind[Any, Any]) -> Callable[[Cleanup], Cleanup]:
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


def _adapt_deletion(kind: Kind[Any, Any], handler: Cleanup) -> Callable[..., Awaitable[None]]:
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
        unparsed: Any = body.get("spec")
        resource = Resource(
            kind=kind.kind,
            namespace=body.metadata.namespace or "",
            name=body.metadata.name or "",
            created=str(body.metadata.get("creationTimestamp") or ""),
            uid=body.metadata.uid or "",
            generation=generation,
            spec=unparsed,
            status=before,
        )
        result = await handler(resource, memo["ports"], retry)
        if result.retry_after_seconds is None:
            for done in result.observed:
                _tell(body, "Normal", reason=done.reason, message=done.message)
            return
        _write(
            body,
            patch,
            memo,
            seen,
            before,
            report(before, result.observed, generation=generation, now=now),
        )
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
    after = report(before, [observed], generation=failure.generation, now=failure.now)
    (written,) = (c for c in after.conditions if c.type == observed.type)
    previous = next((c for c in before.conditions if c.type == observed.type), None)
    _write(body, patch, memo, seen, before, after)
    if (
        previous is not None
        and previous.status == written.status
        and ((previous.reason, previous.message) != (written.reason, written.message))
    ):
        # Still failing, for another reason: `_write` only tells of flips.
        _tell(body, "Warning", reason=written.reason, message=written.message)
    return kopf.TemporaryError(f"{written.reason}: {written.message}", delay=failure.delay)


def status_patch(before: Status, after: Status) -> dict[str, Any]:
    """The merge patch from `before` to `after`: a field that went away is sent as null, since a
    merge patch that leaves a field out leaves it as it was (a step's start time would outlive
    its step), and so is one inside an object that stays (an interleaved split's flag would
    outlive its step)."""
    return _merge_patch(_dump(before), _dump(after))


def _merge_patch(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    patch = dict(after)
    for key, old in before.items():
        if key not in after:
            patch[key] = None
        elif isinstance(old, dict) and isinstance(after[key], dict):
            patch[key] = _merge_patch(old, after[key])
    return patch


@dataclass(frozen=True)
class _Written:
    """The status this operator last wrote for an object, and the object's version then."""

    based_on: str  # metadata.resourceVersion of the body the write was decided on
    status: Status


_WRITTEN = "paved_written"  # in kopf's per-object memo
_FAILURES = "paved_failures"  # failed reconciles in a row, in kopf's per-object memo


def _as_written(seen: StatusT, body: kopf.Body, memo: kopf.Memo) -> StatusT:
    """The object's status as it really is. kopf hands timers the last body its watch delivered,
    and a busy API server delivers a status write seconds later: until then the body is the one
    the last decision was taken on, and the status is what that decision wrote. Taking the body
    at its word made a Rollout act twice on one step (an analysis, a step start, an event)."""
    written = memo.get(_WRITTEN)
    if (
        isinstance(written, _Written)
        and written.based_on == body.metadata.get("resourceVersion")
        and isinstance(written.status, type(seen))
    ):
        return written.status
    return seen


def _write(
    body: kopf.Body,
    patch: kopf.Patch,
    memo: kopf.Memo,
    seen: Status,
    before: Status,
    after: Status,
) -> None:
    """One status patch per reconcile that changed it, and an event per flipped condition.

    The patch leads from what the body shows (`seen`) as well as from the status the decision
    started from (`before`, perhaps a write not delivered yet): if that write was lost, this
    one carries it again."""
    if after == seen and after == before:
        return
    patch.status.update(status_patch(seen, after) | status_patch(before, after))
    memo[_WRITTEN] = _Written(str(body.metadata.get("resourceVersion") or ""), after)
    for condition in flipped(before.conditions, after.conditions):
        _tell(body, event_type(condition), reason=condition.reason, message=condition.message)


def _tell(body: kopf.Body, kind: str, *, reason: str, message: str) -> None:
    """A Kubernetes Event on the object, and the same line in the operator's log (`EVENTS`
    logs at INFO even when kopf is quiet: a Pod's log tells what the operator did)."""
    kopf.event(body, type=kind, reason=reason, message=message)
    where = f"{body.metadata.namespace}/{body.metadata.name}"
    EVENTS.info("%s %s %s: %s: %s", body.get("kind"), where, kind, reason, message)
