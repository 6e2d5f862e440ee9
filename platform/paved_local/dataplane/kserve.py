"""KServe's part of the data plane: InferenceServices (serving.kserve.io/v1beta1) in serverless
mode, routed as Knative routes them (ADR 0015): a request goes to one of the revisions the
traffic targets name, by their percents (`paved_local.kserve.revisions` keeps the revisions).

Requests are counted as Knative's queue-proxy counts them: `revision_request_count` and
`revision_request_latencies` (milliseconds, Knative's buckets), by `revision_name` and
`response_code_class`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from paved.core.serving import served_version
from paved_local.dataplane.routing import Predictor, Route
from paved_local.kserve.manifests import model_endpoint
from paved_local.kserve.revisions import Revisions, storage_uri, traffic

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
            endpoint=model_endpoint(metadata["namespace"], metadata["name"], t["revisionName"]),
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
