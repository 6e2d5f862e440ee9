"""FeatureView: materialize offline → online on schedule, and keep freshness in status.

A timer drives it (level-triggered): each tick decides in the core whether materialization is
due, does it through the ports in a worker thread, and reports watermarks and lags. Deleting
one removes the online values of all its versions; the object stays until they are gone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

from paved.api.crds import FEATURE_VIEW
from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus, MaterializationRun
from paved.api.meta import parse_duration
from paved.controllers._kopf import Reconciled, Resource, on_delete, timer
from paved.controllers.acceptance import check_references, name_holder
from paved.core.conditions import Observation
from paved.core.feature_views import (
    ViewDefinition,
    deletion_retry_seconds,
    keys_kept,
    keys_removed,
    view_definition,
    view_version,
)
from paved.core.freshness import FeatureLag, feature_lags, fresh_condition, is_due, summary
from paved.core.reasons import AcceptanceReason, FeatureViewReason
from paved.errors import PathOutsideDataRootError, SourceDataError, StoreUnavailableError
from paved.observability import (
    FEATURE_LAG_SECONDS,
    FEATURE_SLO_SECONDS,
    MATERIALIZATION_FAILURES,
    MATERIALIZATION_SECONDS,
    MATERIALIZED_ROWS,
    forget_feature_view,
)
from paved.ports import Ports
from paved.services.materialization import Watermarks, materialize

READY = "Ready"


FeatureViewResource = Resource[FeatureViewSpec, FeatureViewStatus]


@timer(FEATURE_VIEW)
async def keep_features_fresh(
    resource: FeatureViewResource, ports: Ports, now: dt.datetime
) -> Reconciled:
    spec, status = resource.spec, resource.status
    accepted = await check_references(resource, ports)
    observed: list[Observation] = [accepted]
    if accepted.reason == AcceptanceReason.NAME_TAKEN:
        # Nothing is written: another kind's values are served under this name.
        observed.append(Observation(READY, "False", accepted.reason, accepted.message))
        return Reconciled(observed, status_updates={"version": view_version(spec)})
    try:
        view = view_definition(resource.name, spec, ports.data_root, namespace=resource.namespace)
    except PathOutsideDataRootError as error:
        # Nothing is read: the source names no place this namespace may read.
        observed.append(Observation(READY, "False", error.reason, str(error)))
        return Reconciled(observed, status_updates={"version": view_version(spec)})
    updates: dict[str, object] = {"version": view.version}
    last_run = status.last_materialization.at if status.last_materialization else None
    interval = parse_duration(spec.materialization.interval)
    if spec.materialization.enabled and is_due(last_run, interval, now):
        ran, written = await _materialize(resource, ports, view, now=now)
        observed.append(ran)
        updates |= written
    watermark = updates.get("watermark", status.watermark)
    lags = feature_lags(view, watermark if isinstance(watermark, dt.datetime) else None, now)
    _export(resource, lags)
    observed.append(fresh_condition(lags))
    freshness = [
        {
            "feature": lag.feature,
            "lag_seconds": lag.lag_seconds,
            "slo_seconds": lag.slo_seconds,
            "ok": lag.ok,
        }
        for lag in lags
    ]
    updates |= {"freshness": freshness, "freshness_summary": summary(lags)}
    return Reconciled(observed, status_updates=updates)


async def _materialize(
    resource: FeatureViewResource, ports: Ports, view: ViewDefinition, *, now: dt.datetime
) -> tuple[Observation, dict[str, object]]:
    """One materialization offline → online: the Ready condition, and the status it leaves."""
    spec, status = resource.spec, resource.status
    since = Watermarks(status.watermark, status.created_watermark)
    lateness = parse_duration(spec.materialization.allowed_lateness)
    labels = (resource.namespace, resource.name)
    try:
        report = await asyncio.to_thread(
            materialize, view, ports.offline, ports.online, since, lateness
        )
    except (SourceDataError, StoreUnavailableError) as error:
        # The source's own reason (SourceUnreadable, SourceDataError) says what to fix.
        unavailable = FeatureViewReason.ONLINE_STORE_UNAVAILABLE
        reason = error.reason if isinstance(error, SourceDataError) else unavailable
        MATERIALIZATION_FAILURES.labels(*labels, reason).inc()
        return Observation(READY, "False", reason, str(error)), {}
    MATERIALIZED_ROWS.labels(*labels).inc(report.written)
    MATERIALIZATION_SECONDS.labels(*labels).observe(report.seconds)
    watermark = report.watermarks.event
    online_up_to = watermark.isoformat() if watermark else "nothing yet"
    message = (
        f"Version {view.version} online; {report.written} of {report.rows} changed rows "
        f"written; event watermark {online_up_to}."
    )
    run = MaterializationRun(at=now, rows=report.written, seconds=round(report.seconds, 3))
    written: dict[str, object] = {
        "watermark": watermark,
        "created_watermark": report.watermarks.created,
        "last_materialization": run,
    }
    return Observation(READY, "True", FeatureViewReason.MATERIALIZED, message), written


def _export(resource: FeatureViewResource, lags: Sequence[FeatureLag]) -> None:
    """Each feature's lag and SLO, as metrics."""
    for lag in lags:
        labels = (resource.namespace, resource.name, lag.feature)
        if lag.lag_seconds is not None:
            FEATURE_LAG_SECONDS.labels(*labels).set(lag.lag_seconds)
        if lag.slo_seconds is not None:
            FEATURE_SLO_SECONDS.labels(*labels).set(lag.slo_seconds)


@on_delete(FEATURE_VIEW)
async def remove_online_values(
    resource: Resource[Any, FeatureViewStatus], ports: Ports, attempts: int
) -> Reconciled:
    """Every version's online values go with the FeatureView; while the online store cannot be
    reached the object stays (its finalizer), says why and tries again, ever less often. One
    that never held its name online wrote nothing there: the holder's values stay."""
    if await name_holder(resource, ports) is not None:
        forget_feature_view(resource.namespace, resource.name)
        return Reconciled([keys_removed(0)])
    try:
        removed = await asyncio.to_thread(
            ports.online.delete_all_versions, resource.namespace, resource.name
        )
    except StoreUnavailableError as error:
        wait = deletion_retry_seconds(attempts)
        kept = keys_kept(str(error), wait)
        return Reconciled([kept], retry_after_seconds=wait, retry_reason=kept.message)
    forget_feature_view(resource.namespace, resource.name)
    return Reconciled([keys_removed(removed)])
