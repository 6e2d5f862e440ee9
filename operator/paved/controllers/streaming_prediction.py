"""StreamingPrediction: keep its consumer workers running on the plan the core decides, and
report the stream's backlog (lag, pending, the oldest unscored event) against its SLO.

A timer drives it: each tick finds the FeatureViews and the model version, asks the core for
the plan, has the workers run it (a new model version or spec replaces them), then reads the
backlog. Deleting one stops its workers; its output stream and dead letters stay.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, assert_never

from paved.api.crds import STREAMING_PREDICTION
from paved.api.meta import parse_duration
from paved.api.model_version import Stage
from paved.api.streaming_prediction import (
    Backlog,
    StreamingPredictionSpec,
    StreamingPredictionStatus,
)
from paved.controllers._kopf import Reconciled, Resource, on_delete, timer
from paved.controllers.acceptance import name_holder
from paved.core.conditions import Observation
from paved.core.model_versions import registered_model_name
from paved.core.reasons import StreamingPredictionReason as Reason
from paved.core.references import acceptance
from paved.core.streaming_predictions import (
    READY,
    ChosenModel,
    FoundView,
    Run,
    Subject,
    Wait,
    decide,
    events_per_second,
    fresh_condition,
    freshness_summary,
    model_missing,
    ready_condition,
)
from paved.errors import StoreUnavailableError
from paved.observability import (
    STREAM_LAG,
    STREAM_OLDEST_SECONDS,
    STREAM_PENDING,
    STREAM_THROUGHPUT,
    forget_streaming_prediction,
)
from paved.ports import Ports
from paved.ports.cluster import Unreadable
from paved.ports.registry import RegistryUnavailableError

StreamingPredictionResource = Resource[StreamingPredictionSpec, StreamingPredictionStatus]


@timer(STREAMING_PREDICTION)
async def keep_scoring(
    resource: StreamingPredictionResource, ports: Ports, now: dt.datetime
) -> Reconciled:
    if ports.workers is None or ports.backlogs is None:
        message = "This operator runs no stream workers (no StreamWorkers in its ports)."
        return Reconciled([Observation(READY, "False", Reason.WORKERS_UNAVAILABLE, message)])
    accepted = await name_holder(resource, ports) or acceptance([], resource.namespace)
    if accepted.status != "True":
        # Refused before it writes: workers it started before it saw the holder stop.
        await ports.workers.remove(resource.namespace, resource.name)
        ready = Observation(READY, "False", accepted.reason, accepted.message)
        return Reconciled([accepted, ready], status_updates={"workers": 0})
    spec = resource.spec
    subject = Subject(resource.namespace, resource.name, spec)
    decision = decide(subject, await _views(resource, ports), await _model(resource, ports))
    updates: dict[str, Any] = {}
    observed: list[Observation] = [accepted]
    match decision:
        case Run(plan):
            running = await ports.workers.apply(plan)
            observed.append(ready_condition(plan, running))
            updates |= {"model_version": plan.model_version, "workers": running}
        case Wait(observation):
            observed.append(observation)  # workers already running keep their plan
        case _:
            assert_never(decision)
    backlog = await _backlog(resource, ports, now)
    observed.append(fresh_condition(backlog, parse_duration(spec.freshness)))
    rate = events_per_second(resource.status.backlog, backlog)
    _export(resource, backlog, rate)
    updates |= {
        "backlog": backlog if backlog is not None else resource.status.backlog,
        "events_per_second": rate,
        "freshness_summary": freshness_summary(backlog),
    }
    return Reconciled(observed, status_updates=updates)


async def _views(resource: StreamingPredictionResource, ports: Ports) -> dict[str, FoundView]:
    names = {ref.partition(":")[0] for ref in resource.spec.features}
    views: dict[str, FoundView] = {}
    for name in sorted(names):
        found = await ports.cluster.feature_view(resource.namespace, name)
        if found is None or isinstance(found, Unreadable):
            views[name] = None if found is None else found.problem
        else:
            views[name] = found.spec
    return views


async def _model(resource: StreamingPredictionResource, ports: Ports) -> ChosenModel | Wait:
    """The pinned ModelVersion's registry version, else the model's production version."""
    source, namespace = resource.spec.model, resource.namespace
    if source.model_version is not None:
        found = await ports.cluster.model_version(namespace, source.model_version)
        registry = None if found is None else found.status.registry if found.status else None
        if registry is None or registry.uri is None:
            message = f"ModelVersion {source.model_version} is not registered (yet)."
            return model_missing(Reason.MODEL_NOT_FOUND, message)
        return ChosenModel(registry.name, registry.version, registry.uri)
    model = registered_model_name(namespace, source.name or "")
    try:
        production = await ports.registry.in_stage(model, Stage.PRODUCTION)
    except RegistryUnavailableError as error:
        return model_missing(Reason.REGISTRY_UNAVAILABLE, str(error))
    if production is None:
        return model_missing(Reason.MODEL_NOT_FOUND, f"{model} has no production version.")
    return ChosenModel(model, production.version, production.uri)


async def _backlog(
    resource: StreamingPredictionResource, ports: Ports, now: dt.datetime
) -> Backlog | None:
    assert ports.backlogs is not None
    try:
        spec = resource.spec.input
        return await ports.backlogs.backlog(spec.stream, spec.group, now)
    except StoreUnavailableError:
        return None  # Fresh says Unknown; the next tick reads again


def _export(
    resource: StreamingPredictionResource, backlog: Backlog | None, rate: float | None
) -> None:
    labels = (resource.namespace, resource.name)
    if backlog is not None:
        if backlog.lag is not None:
            STREAM_LAG.labels(*labels).set(backlog.lag)
        STREAM_PENDING.labels(*labels).set(backlog.pending)
        STREAM_OLDEST_SECONDS.labels(*labels).set(backlog.oldest_seconds or 0.0)
    if rate is not None:
        STREAM_THROUGHPUT.labels(*labels).set(rate)


@on_delete(STREAMING_PREDICTION)
async def stop_workers(resource: Resource[Any, Any], ports: Ports, _attempts: int) -> Reconciled:
    """Its workers stop with it; what they wrote (output stream, online, dead letters) stays."""
    stopped = (
        0
        if ports.workers is None
        else await ports.workers.remove(resource.namespace, resource.name)
    )
    forget_streaming_prediction(resource.namespace, resource.name)
    message = f"Deleted: {stopped} workers stopped."
    return Reconciled([Observation("WorkersStopped", "True", Reason.WORKERS_STOPPED, message)])
