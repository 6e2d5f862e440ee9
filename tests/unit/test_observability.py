"""A deleted object's series go with it, and only its: a gauge keeps its last value, so a
deleted ModelMonitor's alarm (or a FeatureView's staleness) would otherwise fire for ever."""

from __future__ import annotations

from prometheus_client import Gauge

from paved.observability import (
    FEATURE_LAG_SECONDS,
    MONITOR_CHECK,
    MONITOR_PREDICTION_PSI,
    MONITOR_PSI,
    MONITOR_SKEW,
    MONITOR_STALE,
    forget_feature_view,
    forget_model_monitor,
)


def _series(gauge: Gauge, namespace: str) -> set[tuple[str, ...]]:
    return {
        tuple(sample.labels.values())
        for metric in gauge.collect()
        for sample in metric.samples
        if sample.labels["namespace"] == namespace
    }


def test_forgetting_a_model_monitor_drops_its_series_and_keeps_the_others() -> None:
    for monitor in ("churn", "fraud"):
        MONITOR_CHECK.labels("t-obs", monitor, "InputDrift").set(1)
        MONITOR_PSI.labels("t-obs", monitor, "clicks_7d").set(0.4)
        MONITOR_PREDICTION_PSI.labels("t-obs", monitor).set(0.3)
        MONITOR_STALE.labels("t-obs", monitor).set(0.1)
        MONITOR_SKEW.labels("t-obs", monitor, "clicks_7d").set(0.2)
    forget_model_monitor("t-obs", "churn")
    assert _series(MONITOR_CHECK, "t-obs") == {("t-obs", "fraud", "InputDrift")}
    assert _series(MONITOR_PSI, "t-obs") == {("t-obs", "fraud", "clicks_7d")}
    for gauge in (MONITOR_PREDICTION_PSI, MONITOR_STALE):
        assert _series(gauge, "t-obs") == {("t-obs", "fraud")}
    assert _series(MONITOR_SKEW, "t-obs") == {("t-obs", "fraud", "clicks_7d")}
    forget_model_monitor("t-obs", "fraud")


def test_forgetting_a_feature_view_drops_its_freshness_series() -> None:
    FEATURE_LAG_SECONDS.labels("t-obs", "activity", "clicks").set(3)
    FEATURE_LAG_SECONDS.labels("t-obs", "orders", "count").set(3)
    forget_feature_view("t-obs", "activity")
    assert _series(FEATURE_LAG_SECONDS, "t-obs") == {("t-obs", "orders", "count")}
    forget_feature_view("t-obs", "orders")
