"""The built-in guardrail queries against the real Prometheus, scraping Seldon's metric names."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
import uuid
from collections.abc import Iterator

import pytest

from paved.adapters.metrics.prometheus import PrometheusMetrics
from paved.adapters.traffic.seldon_v1 import builtin_queries
from paved.api.rollout import BuiltinGuardrail
from paved.errors import PermanentError
from paved_local.platform import Endpoints, LocalPlatform
from tests.support.waiting import wait_for

METRIC = "seldon_api_executor_server_requests_seconds"


def _exporter(deployment: str) -> type[http.server.BaseHTTPRequestHandler]:
    scrapes = {"count": 0}

    class Executor(http.server.BaseHTTPRequestHandler):
        """Seldon's executor metric: the candidate fails 3 of every 10 requests."""

        def do_GET(self) -> None:
            scrapes["count"] += 1
            n = scrapes["count"]
            lines = [f"# TYPE {METRIC} histogram"]
            for predictor, ok, failed in (("baseline", 10 * n, 0), ("candidate", 7 * n, 3 * n)):
                for code, count in (("200", ok), ("500", failed)):
                    labels = (
                        f'namespace="ml",deployment_name="{deployment}",'
                        f'predictor_name="{predictor}",'
                        f'service="predictions",method="post",code="{code}"'
                    )
                    lines.append(f'{METRIC}_bucket{{{labels},le="0.1"}} {count}')
                    lines.append(f'{METRIC}_bucket{{{labels},le="+Inf"}} {count}')
                    lines.append(f"{METRIC}_count{{{labels}}} {count}")
                    lines.append(f"{METRIC}_sum{{{labels}}} {count * 0.05}")
            body = ("\n".join(lines) + "\n").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: Prometheus scrapes every two seconds."""

    return Executor


@pytest.fixture
def deployment(local_platform: LocalPlatform) -> Iterator[str]:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _exporter(name))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = local_platform.prometheus_targets_directory() / f"{name}.json"
    address = f"127.0.0.1:{server.server_address[1]}"
    target.write_text(json.dumps([{"targets": [address]}]))
    try:
        yield name
    finally:
        target.unlink()
        server.shutdown()
        server.server_close()


def test_builtin_error_rate_reads_the_candidates_errors_from_prometheus(
    endpoints: Endpoints, deployment: str
) -> None:
    metrics = PrometheusMetrics(endpoints.prometheus)
    candidate = builtin_queries(BuiltinGuardrail.ERROR_RATE, "ml", deployment, "candidate", "20s")
    baseline = builtin_queries(BuiltinGuardrail.ERROR_RATE, "ml", deployment, "baseline", "20s")

    rate = wait_for(lambda: asyncio.run(metrics.value(candidate.value)), 60, "an error rate")
    assert rate == pytest.approx(0.3, abs=0.01)
    assert asyncio.run(metrics.value(baseline.value)) == 0.0
    samples = asyncio.run(metrics.value(candidate.samples))
    assert samples is not None
    assert samples > 0


def test_no_data_is_none_and_a_bad_query_is_permanent(endpoints: Endpoints) -> None:
    metrics = PrometheusMetrics(endpoints.prometheus)
    quiet = builtin_queries(BuiltinGuardrail.ERROR_RATE, "ml", "nobody", "candidate", "1m")
    assert asyncio.run(metrics.value(quiet.value)) is None
    with pytest.raises(PermanentError, match="PromQL refused"):
        asyncio.run(metrics.value("sum(rate(oops[1m]"))
