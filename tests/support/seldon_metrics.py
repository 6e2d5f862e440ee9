"""A stand-in for Seldon's executors: Seldon's own metric names and labels, scraped by the local
Prometheus, with an error ratio per predictor that a test sets (the local data plane will
produce the same series from real requests)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from paved.local.platform import LocalPlatform

METRIC: Final = "seldon_api_executor_server_requests_seconds"
REQUESTS_PER_SCRAPE: Final = 20


class Executors:
    def __init__(self, deployment: str, predictors: tuple[str, ...]) -> None:
        self.deployment = deployment
        self.error_ratio = dict.fromkeys(predictors, 0.0)
        self._ok = dict.fromkeys(predictors, 0)
        self._failed = dict.fromkeys(predictors, 0)
        self._lock = threading.Lock()

    def scrape(self) -> bytes:
        with self._lock:
            lines = [f"# TYPE {METRIC} histogram"]
            for predictor, ratio in self.error_ratio.items():
                failed = round(REQUESTS_PER_SCRAPE * ratio)
                self._failed[predictor] += failed
                self._ok[predictor] += REQUESTS_PER_SCRAPE - failed
                for code, count in (("200", self._ok[predictor]), ("500", self._failed[predictor])):
                    labels = (f'deployment_name="{self.deployment}",predictor_name="{predictor}",'
                              f'service="predictions",method="post",code="{code}"')  # fmt: skip
                    lines += [
                        f'{METRIC}_bucket{{{labels},le="0.05"}} {count}',
                        f'{METRIC}_bucket{{{labels},le="+Inf"}} {count}',
                        f"{METRIC}_count{{{labels}}} {count}",
                        f"{METRIC}_sum{{{labels}}} {count * 0.01}",
                    ]
            return ("\n".join(lines) + "\n").encode()


@contextmanager
def seldon_executors(
    platform: LocalPlatform, deployment: str, predictors: tuple[str, ...]
) -> Iterator[Executors]:
    executors = Executors(deployment, predictors)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = executors.scrape()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: Prometheus scrapes every two seconds."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = platform.prometheus_targets_directory() / f"{deployment}.json"
    target.write_text(json.dumps([{"targets": [f"127.0.0.1:{server.server_address[1]}"]}]))
    try:
        yield executors
    finally:
        target.unlink()
        server.shutdown()
        server.server_close()
