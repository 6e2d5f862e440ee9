"""The operator's own Prometheus metrics."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Histogram

RECONCILES: Final = Counter(
    "paved_reconcile_total",
    "Reconciles by kind and result (ok, retry, failed).",
    ["kind", "result"],
)
RECONCILE_SECONDS: Final = Histogram(
    "paved_reconcile_duration_seconds", "Time spent in one reconcile.", ["kind"]
)
