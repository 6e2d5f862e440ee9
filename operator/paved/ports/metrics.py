"""Metrics providers: one number from a query, or None when there is no data."""

from __future__ import annotations

from typing import Protocol


class MetricsProvider(Protocol):
    async def value(self, query: str) -> float | None:
        """The query's single value now; None when it returns nothing (or NaN): "no data"."""
        ...

    async def vector(self, query: str, label: str) -> dict[str, float]:
        """The query's series now, keyed by `label`'s value; empty when it returns nothing."""
        ...
