"""The Kubernetes API as controllers need it beyond their own resource."""

from __future__ import annotations

from typing import Any, Protocol


class Cluster(Protocol):
    async def get_paved(self, kind: str, namespace: str, name: str) -> dict[str, Any] | None:
        """The paved resource `kind`/`name` in `namespace`, or None when it does not exist."""
        ...

    async def list_paved(self, kind: str, namespace: str) -> list[dict[str, Any]]:
        """Every paved resource of `kind` in `namespace`."""
        ...

    async def promotion_policies(self) -> list[dict[str, Any]]:
        """Every PromotionPolicy in the cluster (cluster-scoped), as stored."""
        ...
