"""FeatureView: materialize offline → online on schedule, and keep freshness in status.

A timer drives it (level-triggered): each tick decides in the core whether materialization is
due, does it through the ports in a worker thread, and reports watermarks and lags.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from paved.api.crds import FEATURE_VIEW
from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus, MaterializationRun
from paved.api.meta import parse_duration
from paved.controllers._kopf import Reconciled, Resource, timer
from paved.controllers.acceptance import check_references
from paved.core.conditions import Observation
from paved.core.feature_views import view_definition
from paved.core.freshness import feature_lags, fresh_condition, is_due, summary
from paved.errors import SourceDataError, StoreUnavailableError
from paved.observability import (
    FEATURE_LAG_SECONDS,
    FEATURE_SLO_SECONDS,
    MATERIALIZATION_FAILURES,
    MATERIALIZATION_SECONDS,
    MATERIALIZED_ROWS,
)
from paved.ports import Ports
from paved.services.materialization import Watermarks, materialize

READY = "Ready"


@timer(FEATURE_VIEW)
async def keep_features_fresh(resource: Resource, ports: Ports, now: dt.datetime) -> Reconciled:
    spec: FeatureViewSpec = resource.spec
    status = resource.status
    assert isinstance(status, FeatureViewStatus)
    view = view_definition(resource.name, spec, ports.data_root)
    updates: dict[str, object] = {"version": view.version}
    observed: list[Observation] = [await check_references(resource, ports)]
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
