"""BatchPrediction: score a set of entities with a registered model on a trigger, and serve the
predictions from the online store like features.

A timer drives it (level-triggered). Each tick, the core's `decide` names the next step: find
the model that scores, or score the due run (in a worker thread, through the service); this
handler carries it out and hands back what it saw, until the step is the status to write.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from typing import Final, assert_never

from paved.api.batch_prediction import BatchPredictionSpec, BatchPredictionStatus
from paved.api.crds import BATCH_PREDICTION
from paved.controllers._kopf import Reconciled, Resource, timer
from paved.controllers.acceptance import check_references
from paved.controllers.batch_prediction_models import find_model
from paved.core.batch_prediction_steps import (
    Compare,
    FindModel,
    Publish,
    Report,
    Score,
    Scored,
    ScoringFailed,
    Seen,
    Subject,
    Waiting,
    decide,
)
from paved.core.batch_predictions import ScoringPlan
from paved.core.data_paths import namespace_root
from paved.core.feature_views import ViewDefinition, view_definition
from paved.core.prediction_shadow import Comparison
from paved.core.reasons import AcceptanceReason, BatchPredictionReason
from paved.errors import PermanentError, StoreUnavailableError
from paved.observability import (
    PREDICTION_AS_OF,
    PREDICTION_FAILURES,
    PREDICTION_ROWS,
    PREDICTION_RUN_SECONDS,
)
from paved.ports import Ports
from paved.ports.cluster import Unreadable
from paved.ports.registry import RegistryUnavailableError
from paved.services.batch_scoring import compare_runs, publish_run, score_run

# A reconcile: find the model, score, compare, publish, report; more means an act did not take.
MAX_STEPS: Final = 6

BatchPredictionResource = Resource[BatchPredictionSpec, BatchPredictionStatus]


@timer(BATCH_PREDICTION)
async def score_batch_predictions(
    resource: BatchPredictionResource, ports: Ports, now: dt.datetime
) -> Reconciled:
    subject = Subject(resource.namespace, resource.name, ports.data_root, resource.annotations)
    entities, watermark = await _entities(resource, ports)
    seen = Seen(await check_references(resource, ports), entities, watermark)
    for _ in range(MAX_STEPS):
        step = decide(subject, resource.spec, resource.status, seen=seen, now=now)
        match step:
            case FindModel(choice=choice):
                seen = replace(seen, model=await find_model(resource.namespace, choice, ports))
            case Score(plan=plan):
                seen = replace(seen, scored=await _score(resource, plan, ports))
            case Compare():
                seen = replace(seen, compared=await _compare(resource, step, ports))
            case Publish():
                await _publish(resource, step, ports, now)
                seen = replace(seen, published=True)
            case Report():
                _export(resource, step)
                updates = dict(step.updates)
                return Reconciled(
                    step.observed, step.retry_after_seconds, step.retry_reason, updates
                )
            case _:
                assert_never(step)
    raise PermanentError(f"no status to report after {MAX_STEPS} steps; the last was {step}")


async def _entities(
    resource: BatchPredictionResource, ports: Ports
) -> tuple[ViewDefinition | Waiting, dt.datetime | None]:
    """The entities' FeatureView as the data plane sees it, and its watermark."""
    name = resource.spec.entities.feature_view
    found = await ports.cluster.feature_view(resource.namespace, name)
    if found is None or isinstance(found, Unreadable):
        why = "does not exist" if found is None else f"cannot be read: {found.problem}"
        message = f"FeatureView {name}, whose entities are scored, {why}."
        return Waiting(AcceptanceReason.REFERENCE_NOT_FOUND, message), None
    try:
        view = view_definition(name, found.spec, ports.data_root, namespace=resource.namespace)
    except PermanentError as error:
        return Waiting(error.reason, str(error)), None
    return view, found.status.watermark


async def _score(
    resource: BatchPredictionResource, plan: ScoringPlan, ports: Ports
) -> Scored | ScoringFailed:
    """One run in a worker thread; what failed, with its reason, instead of an exception."""
    labels = (resource.namespace, resource.name)
    models, files = ports.models, ports.predictions
    if models is None or files is None:
        return ScoringFailed(BatchPredictionReason.SCORING_FAILED, "this operator scores none")
    try:
        model = await asyncio.to_thread(models.load, plan.model.uri)
        report = await asyncio.to_thread(
            score_run,
            plan,
            model=model,
            offline=ports.offline,
            online=ports.online,
            files=files,
            log=ports.prediction_log_writer,
        )
    except (PermanentError, StoreUnavailableError, RegistryUnavailableError) as error:
        reason = _reason(error)
        PREDICTION_FAILURES.labels(*labels, reason).inc()
        return ScoringFailed(reason, str(error))
    PREDICTION_ROWS.labels(*labels).inc(report.rows)
    PREDICTION_RUN_SECONDS.labels(*labels).observe(report.seconds)
    return Scored(report.rows, report.seconds)


async def _compare(resource: BatchPredictionResource, step: Compare, ports: Ports) -> Comparison:
    """The served run's and the shadow run's scores, compared (read in a worker thread)."""
    if ports.predictions is None:
        raise PermanentError("this operator has no prediction files configured")
    root = str(namespace_root(ports.data_root, resource.namespace))
    return await asyncio.to_thread(
        compare_runs,
        ports.predictions,
        served=step.served.path,
        shadow=step.shadow.path,
        keys=step.keys,
        root=root,
        threshold=step.threshold,
    )


async def _publish(
    resource: BatchPredictionResource, step: Publish, ports: Ports, now: dt.datetime
) -> None:
    """The run about to be served, put into the served history (in a worker thread)."""
    if ports.predictions is None:
        raise PermanentError("this operator has no prediction files configured")
    root = str(namespace_root(ports.data_root, resource.namespace))
    await asyncio.to_thread(
        publish_run,
        ports.predictions,
        source=step.source,
        target=step.target,
        root=root,
        lineage=dict(step.lineage),
        served_at=now,
    )


def _reason(error: Exception) -> str:
    match error:
        case PermanentError():
            return error.reason
        case StoreUnavailableError():
            return BatchPredictionReason.ONLINE_STORE_UNAVAILABLE
        case _:
            return BatchPredictionReason.REGISTRY_UNAVAILABLE


def _export(resource: BatchPredictionResource, report: Report) -> None:
    served = report.updates.get("served", resource.status.served)
    if served is not None:
        labels = (resource.namespace, resource.name)
        PREDICTION_AS_OF.labels(*labels).set(served.as_of.timestamp())
