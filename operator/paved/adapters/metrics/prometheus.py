"""`MetricsProvider` on Prometheus (prometheus-api-client); "no data" is None, never zero."""

from __future__ import annotations

import asyncio
import math
from typing import Any, Final

import requests
from prometheus_api_client import PrometheusConnect
from prometheus_api_client.exceptions import PrometheusApiClientException
from requests.adapters import HTTPAdapter
from requests.exceptions import RequestException
from urllib3.util.retry import Retry

from paved.errors import PermanentError, TransientError

# A guardrail query answers in milliseconds. A Prometheus that stops answering must fail the
# analysis (which then holds) rather than hang it: the client's default is to wait forever,
# retrying three times with backoff.
QUERY_TIMEOUT_SECONDS: Final = 10


class PrometheusMetrics:
    def __init__(self, url: str, connections: int = 10) -> None:
        session = requests.Session()
        self._prometheus = PrometheusConnect(
            url=url, disable_ssl=True, timeout=QUERY_TIMEOUT_SECONDS, session=session
        )
        # Replaces the adapter the client mounts on its URL: as many pooled connections as
        # threads query at once (beyond them, each query opens a connection of its own), and
        # no retries of its own.
        adapter = HTTPAdapter(pool_maxsize=connections, max_retries=Retry(total=0))
        session.mount(self._prometheus.url, adapter)

    async def _query(self, query: str) -> list[dict[str, Any]]:
        try:
            result: list[dict[str, Any]] = await asyncio.to_thread(
                self._prometheus.custom_query, query
            )
        except PrometheusApiClientException as error:
            if "bad_data" in str(error):
                raise PermanentError(f"PromQL refused: {query}: {error}") from error
            raise TransientError(f"Prometheus: {error}") from error
        except RequestException as error:
            raise TransientError(f"Prometheus unreachable: {error}") from error
        return result

    async def vector(self, query: str, label: str) -> dict[str, float]:
        series = await self._query(query)
        found = {str(s["metric"].get(label, "")): float(s["value"][1]) for s in series}
        return {key: value for key, value in found.items() if not math.isnan(value)}

    async def value(self, query: str) -> float | None:
        result = await self._query(query)
        if not result:
            return None
        if len(result) > 1:
            raise PermanentError(f"the query returns {len(result)} series, not one: {query}")
        value = float(result[0]["value"][1])
        return None if math.isnan(value) else value
