"""Metrics providers: one number from a query, or None when there is no data."""

from __future__ import annotations

from typing import Protocol


class MetricsProvider(Protocol):
    async def value(self, query: str) -> float | None:
        """The query's single value now; None when it returns nothing (or NaN): "no data"."""
        ...
