"""The operator's own Prometheus metrics."""

from __future__ import annotations

import contextlib
from typing import Final

from prometheus_client import Counter, Gauge, Histogram

RECONCILES: Final = Counter(
    "paved_reconcile_total",
    "Reconciles by kind and result (ok, retry, failed).",
    ["kind", "result"],
)
RECONCILE_SECONDS: Final = Histogram(
    "paved_reconcile_duration_seconds", "Time spent in one reconcile.", ["kind"]
)
FEATURE_LAG_SECONDS: Final = Gauge(
    "paved_feature_freshness_lag_seconds",
    "How far behind now the newest online value of a feature is.",
    ["namespace", "feature_view", "feature"],
)
FEATURE_SLO_SECONDS: Final = Gauge(
    "paved_feature_freshness_slo_seconds",
    "The feature's freshness SLO; lag above it is a breach.",
    ["namespace", "feature_view", "feature"],
)
MATERIALIZED_ROWS: Final = Counter(
    "paved_materialized_rows_total",
    "Rows written to the online store by materialization.",
    ["namespace", "feature_view"],
)
MATERIALIZATION_SECONDS: Final = Histogram(
    "paved_materialization_duration_seconds",
    "How long one materialization run took, from reading the source to the last online write.",
    ["namespace", "feature_view"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)
MATERIALIZATION_FAILURES: Final = Counter(
    "paved_materialization_failures_total",
    "Materialization runs that wrote nothing it could claim, by reason (the Ready condition's).",
    ["namespace", "feature_view", "reason"],
)
ROLLBACKS: Final = Counter(
    "paved_rollout_rollbacks_total",
    "Rollouts rolled back, by guardrail or on request.",
    ["namespace", "rollout", "reason"],
)
CANDIDATE_WEIGHT: Final = Gauge(
    "paved_rollout_candidate_weight_percent",
    "The share of live traffic the candidate gets now.",
    ["namespace", "rollout"],
)
ANALYSIS_LAG_SECONDS: Final = Histogram(
    "paved_rollout_analysis_lag_seconds",
    "How late each Rollout analysis ran: its start minus (the previous one's + the interval); "
    "an analysis up to half a tick early counts as 0.",
    buckets=(0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0),
)

PREDICTION_ROWS: Final = Counter(
    "paved_batch_prediction_rows_total",
    "Entities scored by batch prediction runs.",
    ["namespace", "batch_prediction"],
)
PREDICTION_RUN_SECONDS: Final = Histogram(
    "paved_batch_prediction_run_duration_seconds",
    "How long one batch prediction run took, from the first entity read to the commit.",
    ["namespace", "batch_prediction"],
    buckets=(0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
PREDICTION_FAILURES: Final = Counter(
    "paved_batch_prediction_failures_total",
    "Batch prediction runs that failed, by reason (the Ready condition's).",
    ["namespace", "batch_prediction", "reason"],
)
PREDICTION_AS_OF: Final = Gauge(
    "paved_batch_prediction_as_of_timestamp_seconds",
    "The as-of of the served predictions (Unix time): now minus it is their age.",
    ["namespace", "batch_prediction"],
)
STREAM_LAG: Final = Gauge(
    "paved_streaming_prediction_lag_events",
    "Events of a StreamingPrediction's input stream its group has not read yet.",
    ["namespace", "streaming_prediction"],
)
STREAM_PENDING: Final = Gauge(
    "paved_streaming_prediction_pending_events",
    "Events its workers read and have not acknowledged yet.",
    ["namespace", "streaming_prediction"],
)
STREAM_OLDEST_SECONDS: Final = Gauge(
    "paved_streaming_prediction_oldest_unscored_seconds",
    "Age of the oldest event not scored yet (0 when caught up): the freshness SLO's measure.",
    ["namespace", "streaming_prediction"],
)
STREAM_THROUGHPUT: Final = Gauge(
    "paved_streaming_prediction_events_per_second",
    "Events the group read per second, between the operator's last two looks.",
    ["namespace", "streaming_prediction"],
)
MONITOR_PSI: Final = Gauge(
    "paved_monitor_psi",
    "PSI of a feature's logged inputs against the training set, at a ModelMonitor's last check.",
    ["namespace", "model_monitor", "feature"],
)
MONITOR_METRIC: Final = Gauge(
    "paved_monitor_metric",
    "The live metric over a ModelMonitor's judged predictions (outcome known), at its last check.",
    ["namespace", "model_monitor", "metric"],
)
MONITOR_CHECK: Final = Gauge(
    "paved_monitor_check",
    "1 while a ModelMonitor's check alarms, 0 while it passes (no series while not judged).",
    ["namespace", "model_monitor", "check"],
)
MONITOR_PREDICTION_PSI: Final = Gauge(
    "paved_monitor_prediction_psi",
    "PSI of a ModelMonitor's production model's outputs (scores, or predicted classes) in its "
    "window against those before its promotion, at its last check.",
    ["namespace", "model_monitor"],
)
MONITOR_STALE: Final = Gauge(
    "paved_monitor_stale_entities_ratio",
    "The share of the entities a ModelMonitor's production model served in its window whose "
    "online features were stale or missing, at its last check.",
    ["namespace", "model_monitor"],
)
MONITOR_SKEW: Final = Gauge(
    "paved_monitor_skew_mismatch_ratio",
    "The share of a ModelMonitor's sampled predictions whose logged feature value the offline "
    "store's point-in-time join does not give back, at its last check.",
    ["namespace", "model_monitor", "feature"],
)
STREAM_GAUGES: Final = (STREAM_LAG, STREAM_PENDING, STREAM_OLDEST_SECONDS, STREAM_THROUGHPUT)


def forget_streaming_prediction(namespace: str, name: str) -> None:
    """Drop a deleted StreamingPrediction's series (a gauge keeps its last value)."""
    for gauge in STREAM_GAUGES:
        with contextlib.suppress(KeyError):
            gauge.remove(namespace, name)


def forget_feature_view(namespace: str, name: str) -> None:
    """Drop a deleted FeatureView's freshness series: a gauge keeps its last value, so the view
    would be reported (and alerted on) as stale or fresh for as long as the operator runs."""
    for gauge in (FEATURE_LAG_SECONDS, FEATURE_SLO_SECONDS):
        _forget(gauge, "feature_view", namespace, name)


def forget_model_monitor(namespace: str, name: str) -> None:
    """Drop a ModelMonitor's series (a deleted monitor's alarm must not keep firing)."""
    for gauge in (
        MONITOR_PSI,
        MONITOR_METRIC,
        MONITOR_CHECK,
        MONITOR_PREDICTION_PSI,
        MONITOR_STALE,
        MONITOR_SKEW,
    ):
        _forget(gauge, "model_monitor", namespace, name)


def _forget(gauge: Gauge, owner: str, namespace: str, name: str) -> None:
    """Remove every series of `gauge` that belongs to the object `name` (its `owner` label)."""
    for metric in gauge.collect():
        for sample in metric.samples:
            labels = sample.labels
            if (labels["namespace"], labels[owner]) == (namespace, name):
                with contextlib.suppress(KeyError):  # a sample's labels are in the gauge's order
                    gauge.remove(*labels.values())
