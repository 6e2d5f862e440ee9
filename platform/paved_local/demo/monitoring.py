"""The demo's fourth act: a ModelMonitor watches the production model; the world drifts; the
monitor sees the inputs drift and live AUC drop (from the outcomes Seldon feedback brings back),
and trains the next version on what the prediction log learnt, which passes its gates and waits
for a person. Issue #19's story, on the sites whose operator reads the data plane's log."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import TYPE_CHECKING, Any

from paved_local.demo import data
from paved_local.demo.errors import DemoError
from paved_local.demo.record import Monitoring, MonitorSample, Outcome

if TYPE_CHECKING:
    from paved_local.demo.scenario import Demo

MANIFEST = "07-modelmonitor.yaml"
MONITORS = "modelmonitors"


async def world_drifts(demo: Demo, production: dict[str, Any]) -> None:
    """Act four, after the revert left `production` (v1) serving everyone."""
    if not demo.site.monitors_production:
        demo.event("the fourth act (a ModelMonitor) runs on the local platform only")
        return
    demo.stage("A ModelMonitor watches churn's production version: inputs and live AUC")
    manifest = demo.manifests[MANIFEST]
    demo.cluster.apply(manifest)
    name = manifest["metadata"]["name"]
    trained_auc = production["status"]["lineage"]["metrics"]["auc"]
    monitoring = Monitoring(monitor=name, trained_metric=trained_auc)
    demo.record.monitoring = monitoring
    calm = await demo.wait(
        lambda: _when(demo, monitoring, "PerformanceDropped", "False"), "live AUC to be judged"
    )
    demo.event(f"monitor {name}: {_message(calm, 'PerformanceDropped')}")

    await _drift(demo, monitoring)
    await demo.wait(lambda: _alarmed(demo, monitoring), "the monitor to see the drift")
    demo.event(f"monitor {name}: {monitoring.input_drift}")
    demo.event(f"monitor {name}: {monitoring.performance}")
    await _retrained(demo, monitoring)


async def _drift(demo: Demo, monitoring: Monitoring) -> None:
    """The world changes: new activity, materialized, and the users' new behaviour as load."""
    demo.stage("The world drifts: a product change triples clicks; churn now follows tickets")
    # Users pause while the new world reaches the online store: the log then holds the old
    # world, then the new, and never the new world's users with the old world's features.
    await demo.pause_load()
    now = dt.datetime.now(dt.UTC)
    drifted = await asyncio.to_thread(data.drift, demo.namespace_data, now, demo.world.users)
    await asyncio.to_thread(demo.site.publish_data, demo.namespace_data, demo.namespace)
    monitoring.drifted_at = demo.narrator.now()
    view = demo.manifests["01-featureview.yaml"]["metadata"]["name"]

    async def materialized() -> bool:
        status = (await demo.cluster.get("featureviews", view)).get("status") or {}
        watermark = status.get("watermark")
        return watermark is not None and dt.datetime.fromisoformat(watermark) >= (
            drifted.latest_event
        )

    await demo.wait(materialized, "the FeatureView to materialize the new activity")
    examples = await asyncio.to_thread(demo.examples, demo.endpoints, drifted.labels)
    demo.resume_load(examples)
    demo.event(f"{len(examples):,} users now send their new features; their outcomes follow")


async def _when(
    demo: Demo, monitoring: Monitoring, condition: str, status: str
) -> dict[str, Any] | None:
    """The monitor once `condition` has `status` (each look sampled for the report)."""
    found = await demo.cluster.get(MONITORS, monitoring.monitor)
    _sample(demo, monitoring, found.get("status") or {})
    return found if _status(found, condition) == status else None


async def _alarmed(demo: Demo, monitoring: Monitoring) -> dict[str, Any] | None:
    """The monitor once both its checks alarm; when each was first seen, recorded."""
    found = await demo.cluster.get(MONITORS, monitoring.monitor)
    _sample(demo, monitoring, found.get("status") or {})
    if _status(found, "InputDrift") == "True" and monitoring.input_drift_seen is None:
        monitoring.input_drift_seen = demo.narrator.now()
        monitoring.input_drift = _message(found, "InputDrift")
    if _status(found, "PerformanceDropped") == "True" and monitoring.performance_seen is None:
        monitoring.performance_seen = demo.narrator.now()
        monitoring.performance = _message(found, "PerformanceDropped")
    both = monitoring.input_drift_seen is not None and monitoring.performance_seen is not None
    return found if both else None


async def _retrained(demo: Demo, monitoring: Monitoring) -> None:
    """The retraining the monitor started: trained on the log's labels, gated, waiting."""

    async def started() -> dict[str, Any] | None:
        found = await _when(demo, monitoring, "Retraining", "True")
        return found if found and (found.get("status") or {}).get("retraining") else None

    found = await demo.wait(started, "the monitor to start a retraining")
    record = found["status"]["retraining"]
    name = record["modelVersion"]
    monitoring.retraining, monitoring.because = name, record["evidence"]
    demo.live.models[name] = "Training"
    demo.event(f"monitor {monitoring.monitor} started {name} because {record['evidence']}")
    trained = await demo.trained(name)
    status = trained["status"]
    annotations = trained["metadata"].get("annotations") or {}
    monitoring.labels = annotations.get("paved.dev/labels-from-prediction-log", "")
    monitoring.retrained_phase = status["phase"]
    monitoring.retrained_gates = status.get("gatesSummary")
    if status["phase"] != "Staging":
        raise DemoError(f"{name} ended {status['phase']}: {status.get('gatesSummary')}")
    detail = (
        f"retrained by ModelMonitor {monitoring.monitor} on {monitoring.labels}; gates "
        f"{monitoring.retrained_gates}; waits for a person to sign off and roll it out"
    )
    demo.record.outcomes.append(
        Outcome(model_version=name, result="waiting for a person", detail=detail)
    )
    demo.event(f"{name}: gates {monitoring.retrained_gates}; waiting for a person's sign-off")


def _sample(demo: Demo, monitoring: Monitoring, status: dict[str, Any]) -> None:
    readings = status.get("performance") or []
    overall: dict[str, Any] = next(
        (r for r in readings if r.get("day") is None and r.get("slice") is None), {}
    )
    drift = max(status.get("drift") or [], key=lambda d: d["psi"], default=None)
    monitoring.samples.append(
        MonitorSample(
            at=demo.narrator.now(),
            metric=overall.get("value"),
            judged=overall.get("judged", 0),
            psi=drift["psi"] if drift else None,
            feature=drift["feature"] if drift else None,
        )
    )


def _status(found: dict[str, Any], condition: str) -> str | None:
    conditions = (found.get("status") or {}).get("conditions") or []
    return next((c["status"] for c in conditions if c["type"] == condition), None)


def _message(found: dict[str, Any], condition: str) -> str:
    conditions = (found.get("status") or {}).get("conditions") or []
    return next((c.get("message", "") for c in conditions if c["type"] == condition), "")
