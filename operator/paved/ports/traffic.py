"""Traffic routers: put a split between baseline and candidate in place, and read it back."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paved.core.rollout_steps import Traffic


@dataclass(frozen=True)
class Route:
    """Where traffic goes: a serving deployment and its predictors."""

    namespace: str
    deployment: str
    baseline: str
    candidate: str
    shadow: str


class TrafficRouter(Protocol):
    async def apply(self, route: Route, traffic: Traffic, candidate_model_uri: str) -> None:
        """Serve `candidate_model_uri` as the candidate and split traffic as `traffic` says."""
        ...

    async def promote(self, route: Route, candidate_model_uri: str) -> None:
        """Make the candidate's model the baseline's, with all traffic; drop the rest."""
        ...

    async def observe(self, route: Route, candidate_model_uri: str) -> Traffic | None:
        """The split between the candidate's model and the rest, now; None when the deployment
        is not there."""
        ...
