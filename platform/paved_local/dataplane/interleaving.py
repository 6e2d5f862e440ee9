"""Interleaving in the serving path: both arms rank a request's candidates, the user sees their
team-draft merge, and the clicks that come back later are attributed to the arms.

A ranking request is a Seldon message whose rows are the candidate items (one row of features
each) and whose `meta.tags.items` names them. While the SeldonDeployment carries
`paved.dev/interleave` (a Rollout's interleave step), both live predictors score the rows, each
ranking is its items by score, best first, and the answer is `core.interleaving.team_draft` of
the two with the request id as its seed (a replay gives the same list). The list shown and the
team of each item are kept here by request id until the clicks come (the most recent
`capacity` lists; an older one's clicks are refused as unknown), and the query's win, loss or
tie is counted in `paved_interleaved_queries_total`, by the candidate's predictor: the counter
the interleave step reads through the Seldon router's metric observer. ADR 0036.
"""

from __future__ import annotations

import collections
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd
from prometheus_client import CollectorRegistry, Counter
from pydantic import BaseModel, Field, field_validator

from paved.core.interleaving import Interleaved, Preference, Team, attribute
from paved_local.dataplane.routing import Route

CAPACITY: Final = 100_000  # interleaved lists awaiting their clicks, at most
MAX_CANDIDATES: Final = 1_000


class RankingData(BaseModel):
    names: list[str] = Field(min_length=1)
    ndarray: list[list[Any]] = Field(min_length=1, max_length=MAX_CANDIDATES)


class RankingMeta(BaseModel):
    puid: str | None = Field(default=None, min_length=1, max_length=200)
    tags: dict[str, Any] = Field(default_factory=dict)


class RankingRequest(BaseModel):
    """The candidates to rank: one row of features each, named by `meta.tags.items` (by
    default their positions in the request, "0", "1", ...)."""

    data: RankingData
    meta: RankingMeta = Field(default_factory=RankingMeta)

    def items(self) -> list[str]:
        named = self.meta.tags.get("items")
        if named is None:
            return [str(i) for i in range(len(self.data.ndarray))]
        if not isinstance(named, list) or len(named) != len(self.data.ndarray):
            raise ValueError(
                f"meta.tags.items names {len(named) if isinstance(named, list) else 'no list of'}"
                f" items for {len(self.data.ndarray)} rows: one name a row"
            )
        items = [str(i) for i in named]
        if len(set(items)) != len(items):
            raise ValueError("meta.tags.items names an item twice: each candidate once")
        return items

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.data.ndarray, columns=self.data.names)


class ClicksRequest(BaseModel):
    """The clicks on an interleaved list: its request id and the clicked positions (0-based, in
    the order shown)."""

    puid: str = Field(min_length=1, max_length=200)
    clicked: list[int] = Field(default_factory=list, max_length=MAX_CANDIDATES)

    @field_validator("clicked")
    @classmethod
    def _positions(cls, clicked: list[int]) -> list[int]:
        if any(position < 0 for position in clicked):
            raise ValueError("a clicked position is 0 or more")
        return clicked


def ranking(items: Sequence[str], scores: Sequence[float]) -> list[str]:
    """The items by score, best first; equal scores keep the request's order."""
    order = sorted(range(len(items)), key=lambda i: -scores[i])
    return [items[i] for i in order]


class UnknownQueryError(LookupError):
    """No interleaved list awaits clicks under this request id."""


@dataclass(frozen=True)
class Shown:
    """An interleaved list as the user saw it, and whose items they were."""

    route: tuple[str, str]  # (namespace, deployment)
    candidate: str  # the candidate's predictor
    teams: tuple[Team, ...]


class Interleavings:
    """The lists shown, by request id, until their clicks are attributed; the per-query
    outcomes as a counter."""

    def __init__(self, registry: CollectorRegistry, capacity: int = CAPACITY) -> None:
        self._shown: collections.OrderedDict[str, Shown] = collections.OrderedDict()
        self._capacity = capacity
        self.queries = Counter(
            "paved_interleaved_queries",
            "Interleaved queries by the candidate's outcome: win, loss or tie on clicks",
            ["namespace", "deployment_name", "predictor_name", "outcome"],
            registry=registry,
        )

    def start_at_zero(self, route: Route) -> None:
        """Each outcome's series from 0 before the first click (an increase needs a start)."""
        if route.interleave is not None:
            for preference in Preference:
                self._count(route.namespace, route.deployment, route.interleave, preference, 0)

    def remember(self, route: Route, request_id: str, merged: Interleaved) -> None:
        arms = route.arms()
        assert arms is not None  # only an interleaving route merges
        key = (route.namespace, route.deployment)
        self._shown[request_id] = Shown(key, arms[1].name, merged.teams)
        self._shown.move_to_end(request_id)
        while len(self._shown) > self._capacity:
            self._shown.popitem(last=False)

    def report(self, route: Route, raw: bytes) -> dict[str, str]:
        """A clicks report (a `ClicksRequest`'s JSON) attributed: its request id and outcome."""
        body = ClicksRequest.model_validate_json(raw)
        return {"puid": body.puid, "outcome": self.attribute(route, body.puid, body.clicked)}

    def attribute(self, route: Route, request_id: str, clicked: Sequence[int]) -> Preference:
        """The query's outcome, counted once: its list is forgotten after. Positions outside
        the list are refused (ValueError) and the list kept for a corrected report."""
        shown = self._shown.get(request_id)
        if shown is None or shown.route != (route.namespace, route.deployment):
            raise UnknownQueryError(
                f"no interleaved list of {route.namespace}/{route.deployment} awaits clicks for "
                f"request {request_id!r} (not interleaved, already attributed, or one of more "
                f"than {self._capacity} since)"
            )
        preference = attribute(shown.teams, clicked)
        del self._shown[request_id]
        self._count(route.namespace, route.deployment, shown.candidate, preference, 1)
        return preference

    def _count(
        self, namespace: str, deployment: str, candidate: str, preference: Preference, by: int
    ) -> None:
        labels = {
            "namespace": namespace,
            "deployment_name": deployment,
            "predictor_name": candidate,
            "outcome": preference.value,
        }
        self.queries.labels(**labels).inc(by)
