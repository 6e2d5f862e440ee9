"""The ports: one small Protocol per pluggable part, each method with a one-line contract.

Adapters implement them; controllers receive them bundled in `Ports` through kopf's memo.
"""

from __future__ import annotations

from dataclasses import dataclass

from paved.ports.cluster import Cluster


@dataclass(frozen=True)
class Ports:
    """Everything a controller may act through; built once by `paved.wiring`."""

    cluster: Cluster


__all__ = ["Cluster", "Ports"]
