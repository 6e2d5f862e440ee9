"""Routes from SeldonDeployments: which predictors serve, with what weight, and which one mirrors.

Seldon v1's own admission rules apply: live (non-shadow) traffic sums to 100 when there is more
than one live predictor, at most one shadow, and a shadow is never the only predictor. A
deployment that breaks them gets no route, and the reason is reported, as Seldon's webhook would
refuse it.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from paved.core.serving import INTERLEAVE_ANNOTATION, served_version
from paved_local.seldon.manifests import model_endpoint


@dataclass(frozen=True)
class Predictor:
    name: str
    model_uri: str
    traffic: int
    shadow: bool = False
    version: str = ""  # Seldon takes `predictor_version` from the predictor's `version` annotation
    # The registry version paved annotated it with (ADR 0024), for the prediction log.
    registered: tuple[str, str] | None = None
    unit: str = ""  # the graph's model (its container and MLServer's model name on a cluster)
    endpoint: str = ""  # where its model server answers V2 inference requests, on a cluster


@dataclass(frozen=True)
class Route:
    namespace: str
    deployment: str
    live: tuple[Predictor, ...]
    shadow: Predictor | None
    # Seldon's `seldon.io/rest-timeout` (spec.annotations, milliseconds) in seconds: how long a
    # model server may take to answer; None, Seldon's default, waits as long as it takes.
    rest_timeout: float | None = None
    # While a Rollout's interleave step runs (paved.dev/interleave): the candidate's predictor,
    # whose rankings are merged with the other live predictor's (the baseline's).
    interleave: str | None = None

    def arms(self) -> tuple[Predictor, Predictor] | None:
        """(baseline, candidate) while interleaving: `route_of` checked there are these two."""
        if self.interleave is None:
            return None
        (candidate,) = (p for p in self.live if p.name == self.interleave)
        (baseline,) = (p for p in self.live if p.name != self.interleave)
        return baseline, candidate

    @property
    def predictors(self) -> tuple[Predictor, ...]:
        return (*self.live, *([self.shadow] if self.shadow else []))

    @property
    def models(self) -> set[str]:
        return {p.model_uri for p in self.predictors}


class InvalidDeploymentError(ValueError):
    """The SeldonDeployment breaks one of Seldon's rules; the message says which."""


REST_TIMEOUT: Final = "seldon.io/rest-timeout"


def _rest_timeout(name: str, spec: Mapping[str, Any]) -> float | None:
    """The deployment's `seldon.io/rest-timeout` in seconds, if it sets one."""
    value = (spec.get("annotations") or {}).get(REST_TIMEOUT)
    if value is None:
        return None
    try:
        milliseconds = int(str(value))
    except ValueError:
        milliseconds = 0
    if milliseconds <= 0:
        raise InvalidDeploymentError(
            f"{name}: {REST_TIMEOUT} is {value!r}, not a positive number of milliseconds"
        )
    return milliseconds / 1000


def _interleave(name: str, spec: Mapping[str, Any], live: Sequence[Predictor]) -> str | None:
    """The candidate predictor whose rankings are interleaved with the baseline's, if any: it
    must be one of exactly two live predictors."""
    value = (spec.get("annotations") or {}).get(INTERLEAVE_ANNOTATION)
    if value is None:
        return None
    names = [p.name for p in live]
    if value not in names or len(names) != 2:
        raise InvalidDeploymentError(
            f"{name}: {INTERLEAVE_ANNOTATION} is {value!r}, which is not one of exactly two live "
            f"predictors (live: {', '.join(names)})"
        )
    return str(value)


def route_of(deployment: Mapping[str, Any]) -> Route:
    metadata = deployment.get("metadata") or {}
    name = str(metadata.get("name", ""))
    spec: Mapping[str, Any] = deployment.get("spec") or {}
    predictors: Sequence[Mapping[str, Any]] = spec.get("predictors") or []
    parsed = []
    for entry in predictors:
        graph = entry.get("graph") or {}
        annotations = entry.get("annotations") or {}
        uri = graph.get("modelUri")
        if not uri:
            raise InvalidDeploymentError(
                f"{name}: predictor {entry.get('name')!r} has no graph.modelUri"
            )
        parsed.append(
            Predictor(
                name=str(entry.get("name", "")),
                model_uri=str(uri),
                traffic=int(entry.get("traffic", 0) or 0),
                shadow=bool(entry.get("shadow", False)),
                version=str(annotations.get("version", "")),
                registered=served_version(annotations),
                unit=str(graph.get("name", "")),
                endpoint=model_endpoint(
                    str(metadata.get("namespace", "")),
                    name,
                    str(entry.get("name", "")),
                    str(graph.get("name", "")),
                ),
            )
        )
    live = tuple(p for p in parsed if not p.shadow)
    shadows = [p for p in parsed if p.shadow]
    if not live:
        raise InvalidDeploymentError(f"{name}: no live predictor (a shadow cannot serve alone)")
    if len(shadows) > 1:
        raise InvalidDeploymentError(f"{name}: {len(shadows)} shadow predictors, at most one")
    if len(live) > 1 and sum(p.traffic for p in live) != 100:
        total = sum(p.traffic for p in live)
        raise InvalidDeploymentError(f"{name}: live traffic sums to {total}, not 100")
    if len(live) == 1 and live[0].traffic == 0:
        # One live predictor takes everything whatever its traffic says, as in Seldon.
        live = (replace(live[0], traffic=100),)
    return Route(
        str(metadata.get("namespace", "")),
        name,
        live,
        shadows[0] if shadows else None,
        rest_timeout=_rest_timeout(name, spec),
        interleave=_interleave(name, spec, live),
    )


def deployment_status(serving: bool, load_errors: Sequence[str]) -> dict[str, Any]:
    """The status Seldon Core v1's controller writes: Available once every predictor's model
    is served, Failed with why when one cannot be fetched or loaded (its storage initializer
    failed), Creating meanwhile."""
    if serving:
        state, reason, message = "Available", "ModelsServed", ""
    elif load_errors:
        state, reason, message = "Failed", "StorageInitializerFailed", "; ".join(load_errors)
    else:
        state, reason, message = "Creating", "ModelsLoading", ""
    ready = "True" if serving else "False"
    return {
        "state": state,
        "description": message,
        "conditions": [{"type": "Ready", "status": ready, "reason": reason, "message": message}],
    }


def keep_only(keys: Collection[Hashable], *tables: dict[Any, Any]) -> None:
    """Drop from each table what is not among `keys` (objects deleted since the last look)."""
    for table in tables:
        for gone in set(table) - set(keys):
            del table[gone]


def choose(route: Route, draw: float) -> Predictor:
    """The live predictor a request goes to, for a uniform `draw` in [0, 1)."""
    point = draw * 100
    for predictor in route.live:
        if point < predictor.traffic:
            return predictor
        point -= predictor.traffic
    # Only reachable through floating-point rounding at the top end.
    return next(p for p in reversed(route.live) if p.traffic > 0)


def available_part(route: Route, waiting: Collection[str]) -> Route | None:
    """What of `route` can serve while the predictors named in `waiting` have no model server
    yet: the other live predictors, the traffic shared in proportion (evenly when theirs was
    nothing), without the shadow or the interleaving when those wait; None when no live
    predictor can answer."""
    live = [p for p in route.live if p.name not in waiting]
    if not live:
        return None
    if len(live) < len(route.live):
        weights = [p.traffic for p in live] if any(p.traffic for p in live) else [1] * len(live)
        shares = [weight * 100 // sum(weights) for weight in weights]
        shares[0] += 100 - sum(shares)  # integer shares that still sum to 100
        live = [replace(p, traffic=share) for p, share in zip(live, shares, strict=True)]
    shadow = route.shadow if route.shadow and route.shadow.name not in waiting else None
    interleave = route.interleave if len(live) == len(route.live) else None
    return replace(route, live=tuple(live), shadow=shadow, interleave=interleave)
