"""KServe's part of the data plane: InferenceServices (serving.kserve.io/v1beta1) in serverless
mode, as KServe's controller and Knative would serve them, held to their contract (ADR
0015).

The controller's part is `reconcile`: each new `storageUri` of the predictor is a new revision
(`<name>-predictor-00002`); once its model loads it is the latest ready revision. Without
`canaryTrafficPercent` (or at 100) the latest ready revision takes all traffic and becomes the
latest rolled-out one; with it, the latest ready revision gets that percent and the previous
rolled-out revision keeps the rest (0 pins everything to the previous one: KServe's rollback).
The status says so as KServe's does: `components.predictor.traffic` (Knative's traffic targets,
tagged `prev` and `latest`), `latestReadyRevision`, `latestCreatedRevision`,
`latestRolledoutRevision`, `previousRolledoutRevision`, `observedGeneration` and a Ready
condition. Which model each revision serves (Knative keeps it in its Revision objects) is kept
in the status's `annotations`, the place Knative's duck-typed status has for such state.

Requests are counted as Knative's queue-proxy counts them: `revision_request_count` and
`revision_request_latencies` (milliseconds, Knative's buckets), by `revision_name` and
`response_code_class`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from paved.core.serving import served_version
from paved_local.dataplane.routing import Predictor, Route

GROUP: Final = "serving.kserve.io"
VERSION: Final = "v1beta1"
PLURAL: Final = "inferenceservices"
REVISIONS_ANNOTATION: Final = "paved.dev/revision-models"
DOMAIN: Final = "example.com"  # KServe's default ingress domain: <name>.<namespace>.example.com
# Knative's queue-proxy latency distribution, in milliseconds (knative.dev/serving pkg/metrics).
KNATIVE_BUCKETS_MS: Final = (
    5,
    10,
    20,
    40,
    60,
    80,
    100,
    150,
    200,
    250,
    300,
    350,
    400,
    450,
    500,
    600,
    700,
    800,
    900,
    1000,
    2000,
    5000,
    10000,
    20000,
    50000,
    100000,
)


@dataclass(frozen=True)
class Revision:
    name: str
    model_uri: str


@dataclass(frozen=True)
class Revisions:
    """What KServe's controller (with Knative's) knows of one InferenceService's predictor."""

    created: tuple[Revision, ...] = ()
    latest_ready: str | None = None
    latest_rolledout: str | None = None
    previous_rolledout: str | None = None

    def model_of(self, name: str) -> str:
        return next(r.model_uri for r in self.created if r.name == name)


class InvalidServiceError(ValueError):
    """The InferenceService cannot be served; the message says why (KServe's webhook would)."""


def storage_uri(service: Mapping[str, Any]) -> str:
    model = ((service.get("spec") or {}).get("predictor") or {}).get("model") or {}
    uri = model.get("storageUri")
    if not uri:
        name = (service.get("metadata") or {}).get("name")
        raise InvalidServiceError(f"{name}: spec.predictor.model.storageUri is not set")
    return str(uri)


def canary_percent(service: Mapping[str, Any]) -> int | None:
    found = ((service.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")
    return None if found is None else int(found)


def remembered(service: Mapping[str, Any]) -> Revisions:
    """The revisions the status records (none for a new InferenceService)."""
    status = service.get("status") or {}
    predictor = (status.get("components") or {}).get("predictor") or {}
    models = json.loads((status.get("annotations") or {}).get(REVISIONS_ANNOTATION) or "{}")
    return Revisions(
        tuple(Revision(name, uri) for name, uri in models.items()),
        predictor.get("latestReadyRevision"),
        predictor.get("latestRolledoutRevision"),
        predictor.get("previousRolledoutRevision"),
    )


def reconcile(
    name: str, known: Revisions, uri: str, canary: int | None, ready: Callable[[str], bool]
) -> Revisions:
    """The revisions after KServe's controller has seen the spec (`uri`, `canary`) and the
    models that loaded (`ready`)."""
    created = known.created
    if not created or created[-1].model_uri != uri:
        created = (*created, Revision(f"{name}-predictor-{len(created) + 1:05d}", uri))
    latest_ready = created[-1].name if ready(uri) else known.latest_ready
    rolledout, previous = known.latest_rolledout, known.previous_rolledout
    if latest_ready is not None and rolledout is None:
        rolledout = latest_ready  # the first revision takes everything
    elif latest_ready not in (None, rolledout) and (canary is None or canary >= 100):
        rolledout, previous = latest_ready, rolledout
    return Revisions(created, latest_ready, rolledout, previous)


def traffic(revisions: Revisions, canary: int | None) -> list[dict[str, Any]]:
    """Knative's traffic targets for the predictor, as KServe sets them."""
    latest, rolledout = revisions.latest_ready, revisions.latest_rolledout
    if latest is None or rolledout is None:
        return []
    if latest == rolledout or canary is None:
        return [{"tag": "latest", "revisionName": latest, "latestRevision": True, "percent": 100}]
    return [
        {
            "tag": "prev",
            "revisionName": rolledout,
            "latestRevision": False,
            "percent": 100 - canary,
        },
        {"tag": "latest", "revisionName": latest, "latestRevision": True, "percent": canary},
    ]


def status_of(
    service: Mapping[str, Any], revisions: Revisions, canary: int | None, failed: str | None
) -> dict[str, Any]:
    """The status KServe's controller writes for `revisions` (`failed`: why the latest
    revision's model did not load, if it did not)."""
    metadata = service["metadata"]
    host = f"{metadata['name']}.{metadata['namespace']}.{DOMAIN}"
    ready = revisions.latest_ready is not None and failed is None
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "" if ready else "RevisionFailed" if failed else "RevisionMissing",
        "message": failed or "",
    }
    revision_names = {
        "latestCreatedRevision": revisions.created[-1].name if revisions.created else None,
        "latestReadyRevision": revisions.latest_ready,
        "latestRolledoutRevision": revisions.latest_rolledout,
        "previousRolledoutRevision": revisions.previous_rolledout,
    }
    predictor = {
        **{key: name for key, name in revision_names.items() if name},  # omitempty, as in Go
        "traffic": traffic(revisions, canary),
        "url": f"http://{metadata['name']}-predictor.{metadata['namespace']}.{DOMAIN}",
    }
    models = {r.name: r.model_uri for r in revisions.created}
    return {
        "observedGeneration": metadata.get("generation"),
        "url": f"http://{host}",
        "conditions": [condition, {**condition, "type": "PredictorReady"}],
        "components": {"predictor": predictor},
        "annotations": {REVISIONS_ANNOTATION: json.dumps(models, sort_keys=True)},
    }


def route_of(service: Mapping[str, Any], revisions: Revisions, canary: int | None) -> Route:
    """Where the InferenceService's requests go: its revisions, by Knative's percents."""
    metadata = service["metadata"]
    # The annotations name the registry version of the spec's model only (ADR 0024).
    registered = served_version(metadata.get("annotations"))
    live = tuple(
        Predictor(
            t["revisionName"],
            uri := revisions.model_of(t["revisionName"]),
            t["percent"],
            registered=registered if uri == storage_uri(service) else None,
        )
        for t in traffic(revisions, canary)
    )
    return Route(str(metadata["namespace"]), str(metadata["name"]), live, None)


def addressed(host: str) -> tuple[str, str] | None:
    """The (namespace, name) a request's Host header addresses (`<name>.<namespace>.<domain>`)."""
    parts = host.split(":")[0].split(".")
    return (parts[1], parts[0]) if len(parts) > 2 else None


class KnativeMetrics:
    """Knative's queue-proxy series for each revision, and the scores it returns."""

    def __init__(self, registry: CollectorRegistry) -> None:
        labels = ["namespace_name", "service_name", "configuration_name", "revision_name"]
        codes = [*labels, "response_code", "response_code_class"]
        # A gauge only so the name stays Knative's: a prometheus_client Counter would add _total.
        self.requests = Gauge(
            "revision_request_count",
            "Knative queue-proxy: requests routed to the revision",
            codes,
            registry=registry,
        )
        self.latencies = Histogram(
            "revision_request_latencies",
            "Knative queue-proxy: response time in milliseconds",
            codes,
            buckets=KNATIVE_BUCKETS_MS,
            registry=registry,
        )
        # The application's business outcomes per revision (KServe has no feedback API): what a
        # client that knows the revision that answered (v2's `model_version`) would count.
        self.outcomes = Counter(
            "paved_outcome",
            "Business outcomes recorded per revision",
            ["namespace_name", "revision_name"],
            registry=registry,
        )
        self.reward = Counter(
            "paved_outcome_reward",
            "Summed reward of the outcomes per revision",
            ["namespace_name", "revision_name"],
            registry=registry,
        )

    @staticmethod
    def labels(route: Route, revision: Predictor) -> dict[str, str]:
        component = f"{route.deployment}-predictor"
        return {
            "namespace_name": route.namespace,
            "service_name": component,
            "configuration_name": component,
            "revision_name": revision.name,
        }

    def start_at_zero(self, route: Route) -> None:
        """Each revision's series exist before its first request (see `Metrics.start_at_zero`)."""
        for revision in route.live:
            labels = self.labels(route, revision)
            for code, family in (("200", "2xx"), ("500", "5xx")):
                self.requests.labels(**labels, response_code=code, response_code_class=family)
            self.outcomes.labels(route.namespace, revision.name)
            self.reward.labels(route.namespace, revision.name)

    def observe(self, route: Route, revision: Predictor, code: int, milliseconds: float) -> None:
        labels = self.labels(route, revision)
        family = f"{code // 100}xx"
        self.requests.labels(**labels, response_code=str(code), response_code_class=family).inc()
        self.latencies.labels(
            **labels, response_code=str(code), response_code_class=family
        ).observe(milliseconds)
