"""FeatureView: materialize offline → online on schedule, and keep freshness in status.

A timer drives it (level-triggered): each tick decides in the core whether materialization is
due, does it through the ports in a worker thread, and reports watermarks and lags. Deleting
one removes the online values of all its versions; the object stays until they are gone.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from paved.api.crds import FEATURE_VIEW
from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus, MaterializationRun
from paved.api.meta import parse_duration
from paved.controllers._kopf import Reconciled, Resource, on_delete, timer
from paved.controllers.acceptance import check_references
from paved.core.conditions import Observation
from paved.core.feature_views import (
    deletion_retry_seconds,
    keys_kept,
    keys_removed,
    view_definition,
    view_version,
)
from paved.core.freshness import feature_lags, fresh_condition, is_due, summary
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


@timer(FEATURE_VIEW)
async def keep_features_fresh(resource: Resource, ports: Ports, now: dt.datetime) -> Reconciled:
    spec: FeatureViewSpec = resource.spec
    status = resource.status
    assert isinstance(status, FeatureViewStatus)
    observed: list[Observation] = [await check_references(resource, ports)]
    try:
        view = view_definition(resource.name, spec, ports.data_root, namespace=resource.namespace)
    except PathOutsideDataRootError as error:
        # Nothing is read: the source names no place this namespace may read.
        observed.append(Observation(READY, "False", error.reason, str(error)))
        return Reconciled(observed, status_updates={"version": view_version(spec)})
    updates: dict[str, object] = {"version": view.version}
    last_run = status.last_materialization.at if status.last_materialization else None
    watermark = status.watermark
    if spec.materialization.enabled and is_due(
        last_run, parse_duration(spec.materialization.interval), now
    ):
        since = Watermarks(status.watermark, status.created_watermark)
        try:
            report = await asyncio.to_thread(
                materialize,
                view,
                ports.offline,
                ports.online,
                since,
                parse_duration(spec.materialization.allowed_lateness),
            )
        except (SourceDataError, StoreUnavailableError) as error:
            # The source's own reason (SourceUnreadable, SourceDataError) says what to fix.
            reason = (
                error.reason if isinstance(error, SourceDataError) else "OnlineStoreUnavailable"
            )
            MATERIALIZATION_FAILURES.labels(resource.namespace, resource.name, reason).inc()
            observed.append(Observation(READY, "False", reason, str(error)))
        else:
            watermark = report.watermarks.event
            MATERIALIZED_ROWS.labels(resource.namespace, resource.name).inc(report.written)
            MATERIALIZATION_SECONDS.labels(resource.namespace, resource.name).observe(
                report.seconds
            )
            updates |= {
                "watermark": report.watermarks.event,
                "created_watermark": report.watermarks.created,
                "last_materialization": MaterializationRun(
                    at=now, rows=report.written, seconds=round(report.seconds, 3)
                ),
            }
            online_up_to = watermark.isoformat() if watermark else "nothing yet"
            observed.append(
                Observation(
                    READY,
                    "True",
                    "Materialized",
                    f"Version {view.version} online; {report.written} of {report.rows} changed "
                    f"rows written; event watermark {online_up_to}.",
                )
            )
    lags = feature_lags(view, watermark, now)
    for lag in lags:
        labels = (resource.namespace, resource.name, lag.feature)
        if lag.lag_seconds is not None:
            FEATURE_LAG_SECONDS.labels(*labels).set(lag.lag_seconds)
        if lag.slo_seconds is not None:
            FEATURE_SLO_SECONDS.labels(*labels).set(lag.slo_seconds)
    observed.append(fresh_condition(lags))
    updates |= {
        "freshness": [
            {"feature": lag.feature, "lag_seconds": lag.lag_seconds, "slo_seconds": lag.slo_seconds,
             "ok": lag.ok}
            for lag in lags
        ],
        "freshness_summary": summary(lags),
    }  # fmt: skip
    return Reconciled(observed, status_updates=updates)


@on_delete(FEATURE_VIEW)
async def remove_online_values(resource: Resource, ports: Ports, attempts: int) -> Reconciled:
    """Every version's online values go with the FeatureView; while the online store cannot be
    reached the object stays (its finalizer), says why and tries again, ever less often."""
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
