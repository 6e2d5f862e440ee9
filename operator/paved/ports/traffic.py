"""Traffic routers: put a split between baseline and candidate in place, read it back, and say
how the arms' metrics are queried.

A router is bound to one Rollout's target (a SeldonDeployment, an InferenceService) and speaks
in arms and weights: how a backend names its arms (Seldon's predictors, KServe's revisions) is
the adapter's business. `Routers` picks the implementation from the key set in `spec.target`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from paved.api.rollout import Backend, BuiltinGuardrail, Target
from paved.core.interleaving import Preference
from paved.core.rollout_steps import Traffic
from paved.core.serving import Arm, Capability, ServedModel


@dataclass(frozen=True)
class Queries:
    """PromQL for one built-in guardrail on one arm: its value, and the requests it rests on."""

    value: str
    samples: str


@dataclass(frozen=True)
class Unroutable:
    """Why no router serves a target: no implementation of its backend, or the cluster does not
    serve its API (the backend's CRD is not installed)."""

    reason: str
    message: str


class TrafficRouter(Protocol):
    @property
    def backend(self) -> Backend: ...

    @property
    def capabilities(self) -> frozenset[Capability]:
        """What this backend can do; a step that needs more is refused before traffic moves."""
        ...

    @property
    def described(self) -> str:
        """The target as a person names it, e.g. "SeldonDeployment churn"."""
        ...

    async def apply(self, traffic: Traffic, candidate: ServedModel) -> None:
        """Serve `candidate` (its storage URI, its registry version beside it) as the candidate
        and split traffic as `traffic` says."""
        ...

    async def promote(self, candidate: ServedModel) -> None:
        """Make the candidate's model the baseline's, with all traffic; drop the rest."""
        ...

    async def observe(self, candidate_model_uri: str) -> Traffic | None:
        """The split between the candidate's model and the rest, now; None when the serving
        object is not there."""
        ...

    async def guardrail_queries(self, builtin: BuiltinGuardrail, arm: Arm, window: str) -> Queries:
        """The backend's own metrics for `builtin` on `arm`, over `window` (a PromQL range)."""
        ...

    async def counter_increase(self, metric: str, arm: Arm, seconds: int) -> str:
        """PromQL for how much counter `metric`, labelled as this backend labels arms, grew on
        `arm` over the last `seconds`."""
        ...

    async def interleaved_queries(self, preference: Preference, seconds: int) -> str:
        """PromQL for how many interleaved queries the candidate had `preference` in (won, lost,
        tied) over the last `seconds`; only asked of a router with the interleave capability."""
        ...


class Routers(Protocol):
    async def router_for(self, namespace: str, target: Target) -> TrafficRouter | Unroutable:
        """The router for the backend `target` names, bound to it."""
        ...
