"""The prediction log's cost on serving: p99 latency at 40 requests/s with and without logging.

Run on demand: `.venv/bin/python benchmarks/bench_prediction_log.py [--blocks N] [--seconds S]`
(PAVED_LOCAL_DIR picks the local platform, as for `paved local up`). It registers one scikit-learn
model on six features, serves it from a SeldonDeployment in a fresh namespace, and starts two
data planes of its own on the platform (the same code the platform runs): one logging every
request (`--prediction-log-rate 1`), one not logging at all. Then it sends Seldon requests
(a request id and an entity in `meta`, as the demo's would) at a steady 40 a second, open loop,
to one data plane at a time: a warm-up block each, then alternating blocks (ABBA…), so the
machine's noise falls on both alike, and reports each side's latency percentiles and what the
logger wrote and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Final

import httpx
import mlflow.sklearn
import numpy as np
import pandas as pd
import yaml
from prometheus_client import CollectorRegistry
from sklearn.linear_model import LogisticRegression

from paved.adapters.prediction_log import parquet
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.core.serving import MODEL_ANNOTATION, MODEL_VERSION_ANNOTATION
from paved_local import processes
from paved_local.dataplane.prediction_log import (
    LogSettings,
    PredictionLogger,
    Served,
    prediction_records,
)
from paved_local.dataplane.routing import Predictor, Route
from paved_local.dataplane.scores import Scores
from paved_local.platform import QUIET_ENVIRONMENT, Endpoints, LocalPlatform

RATE: Final = 40.0
FEATURES: Final = ("clicks_7d", "sessions_7d", "support_tickets_30d", "tenure_days", "a", "b")
DEPLOYMENT: Final = "bench-serving"


def _register(endpoints: Endpoints) -> tuple[str, str]:
    mlflow.set_tracking_uri(endpoints.mlflow)
    rng = np.random.default_rng(7)
    # Fitted on named columns, as the pipeline's models are: scoring a frame then warns nothing.
    x = pd.DataFrame(rng.normal(size=(400, len(FEATURES))), columns=list(FEATURES))
    y = (x[FEATURES[0]] + rng.normal(size=400) > 0).astype(int)
    with mlflow.start_run() as run:
        model = LogisticRegression().fit(x, y)
        mlflow.sklearn.log_model(model, name="model", pip_requirements=["scikit-learn"])
    name = f"bench-{uuid.uuid4().hex[:6]}"
    version = asyncio.run(
        MlflowRegistry(endpoints.mlflow).register(name, run.info.run_id, uuid.uuid4().hex, {})
    )
    return version.uri, version.version


def _deploy(endpoints: Endpoints, namespace: str, uri: str, version: str) -> None:
    kubectl = _kubectl(endpoints)
    predictor = {
        "name": "main",
        "graph": {"name": "classifier", "modelUri": uri},
        "annotations": {MODEL_ANNOTATION: f"{namespace}.churn", MODEL_VERSION_ANNOTATION: version},
    }
    body = {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": DEPLOYMENT, "namespace": namespace},
        "spec": {"predictors": [predictor]},
    }
    subprocess.run([*kubectl, "create", "namespace", namespace], check=True, capture_output=True)
    subprocess.run([*kubectl, "apply", "-f", "-"], input=yaml.safe_dump(body).encode(), check=True)


def _kubectl(endpoints: Endpoints) -> list[str]:
    for directory in endpoints.bin_dirs:
        if (Path(directory) / "kubectl").exists():
            return [str(Path(directory) / "kubectl"), f"--kubeconfig={endpoints.kubeconfig}"]
    raise SystemExit("kubectl not found in the platform's toolchain")


def _start_dataplane(endpoints: Endpoints, work: Path, name: str, logging: bool) -> tuple[int, str]:
    port = processes.free_port()
    argv = [sys.executable, "-m", "paved_local.dataplane", f"--port={port}"]
    argv += [f"--model-cache={work / name / 'models'}", f"--kubeconfig={endpoints.kubeconfig}"]
    if logging:
        argv += [f"--prediction-log-root={work / 'log'}", "--prediction-log-rate=1.0"]
    env = {
        **os.environ,
        **QUIET_ENVIRONMENT,
        **endpoints.storage,
        "OMP_NUM_THREADS": "1",
        "MLFLOW_TRACKING_URI": endpoints.mlflow,
    }
    pid = processes.start(argv, work / f"{name}.log", env=env)
    return pid, f"http://127.0.0.1:{port}"


def _body(n: int, rng: np.random.Generator) -> dict[str, object]:
    row = [float(v) for v in rng.normal(size=len(FEATURES))]
    meta = {"puid": f"bench-{n}", "tags": {"entity": {"user_id": n % 5_000}}}
    return {"data": {"names": list(FEATURES), "ndarray": [row]}, "meta": meta}


async def _wait_served(http: httpx.AsyncClient, url: str, timeout: float = 180.0) -> None:
    deadline = time.monotonic() + timeout
    rng = np.random.default_rng(0)
    while time.monotonic() < deadline:
        try:
            if (await http.post(url, json=_body(0, rng))).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.5)
    raise SystemExit(f"{url} did not serve within {timeout:.0f} s")


async def _block(http: httpx.AsyncClient, url: str, seconds: float, start: int) -> list[float]:
    """Requests at RATE a second for `seconds`, each sent on time whatever the answers do."""
    latencies: list[float] = []
    rng = np.random.default_rng(start)

    async def one(n: int) -> None:
        sent = time.perf_counter()
        response = await http.post(url, json=_body(n, rng))
        if response.status_code == 200:
            latencies.append(time.perf_counter() - sent)

    began = time.perf_counter()
    tasks = []
    for k in range(int(seconds * RATE)):
        await asyncio.sleep(max(0.0, began + k / RATE - time.perf_counter()))
        tasks.append(asyncio.create_task(one(start + k)))
    await asyncio.gather(*tasks)
    return latencies


def _percentiles(latencies: list[float]) -> str:
    ms = np.array(latencies) * 1000
    p50, p95, p99 = np.percentile(ms, [50, 95, 99])
    mean = statistics.fmean(ms)
    return f"n={len(ms)} p50={p50:.1f} p95={p95:.1f} p99={p99:.1f} mean={mean:.1f} (ms)"


async def _run(urls: dict[str, str], blocks: int, seconds: float) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {name: [] for name in urls}
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        for url in urls.values():
            await _wait_served(http, url)
        # A block each, not counted: each data plane also loads every other deployment's
        # models on the platform when it starts, and that must be over before timing.
        sent = 1
        for name, url in urls.items():
            warm = await _block(http, url, seconds, sent)
            sent += int(seconds * RATE)
            print(f"warm-up {name:>8}: {_percentiles(warm)}", flush=True)
        for block in range(blocks):
            order = list(urls) if block % 2 == 0 else list(reversed(urls))
            for name in order:
                latencies = await _block(http, urls[name], seconds, sent)
                sent += int(seconds * RATE)
                results[name] += latencies
                print(f"block {block + 1} {name:>8}: {_percentiles(latencies)}", flush=True)
    return results


def _logged(base: str) -> dict[str, float]:
    text = httpx.get(f"{base}/metrics").text
    pattern = r'paved_prediction_log_records_total\{kind="prediction",result="(\w+)"\} (\S+)'
    return {result: float(value) for result, value in re.findall(pattern, text)}


def _own_cost(work: Path, requests: int = 20_000) -> str:
    """The logging path's CPU per request, timed in this process, whatever the machine's load
    does to latency: what a request does (sample, build its record, queue it), and what the
    writer does per record (40 a batch, a second's worth at 40 requests/s)."""
    route = Route("bench", DEPLOYMENT, (Predictor("main", "s3://m", 100),), None)
    rows = [dict.fromkeys(FEATURES, 0.5)]
    logger = PredictionLogger(
        LogSettings(work / "own-cost", capacity=requests), CollectorRegistry()
    )
    started = time.process_time()
    for n in range(requests):
        served = Served(
            route, route.live[0], f"r{n}", ['{"user_id":1}'], rows, Scores(np.array([0.5]))
        )
        if logger.wanted(served.request_id):
            for record in prediction_records(served, dt.datetime.now(dt.UTC)):
                logger.offer(record)
    per_request = (time.process_time() - started) / requests * 1e6
    logger.close(timeout=120)
    records = prediction_records(served, dt.datetime.now(dt.UTC)) * 40
    started = time.perf_counter()
    for _ in range(50):
        parquet.write(str(work / "own-cost-batches"), records)
    per_record = (time.perf_counter() - started) / (50 * 40) * 1e6
    return f"request path {per_request:.1f} µs CPU a request; writer {per_record:.1f} µs a record"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--own-cost", action="store_true", help="only the in-process timing")
    parser.add_argument("--blocks", type=int, default=4, help="blocks per side")
    parser.add_argument("--seconds", type=float, default=30.0, help="seconds per block")
    arguments = parser.parse_args()
    if arguments.own_cost:
        print(_own_cost(Path(tempfile.mkdtemp(prefix="bench-prediction-log-"))))
        return
    endpoints = LocalPlatform().endpoints()
    os.environ.update(endpoints.storage)
    uri, version = _register(endpoints)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    _deploy(endpoints, namespace, uri, version)
    work = Path(tempfile.mkdtemp(prefix="bench-prediction-log-"))
    started = {
        name: _start_dataplane(endpoints, work, name, name == "logging")
        for name in ("logging", "off")
    }
    path = f"/seldon/{namespace}/{DEPLOYMENT}/api/v1.0/predictions"
    try:
        results = asyncio.run(
            _run(
                {name: base + path for name, (_, base) in started.items()},
                arguments.blocks,
                arguments.seconds,
            )
        )
        for name, latencies in results.items():
            print(f"all {name:>8}: {_percentiles(latencies)}")
        print(f"logger (logging data plane): {_logged(started['logging'][1])}")
        p99 = {name: float(np.percentile(latencies, 99)) for name, latencies in results.items()}
        print(f"p99 with logging / without: {p99['logging'] / p99['off']:.3f} (bar: at most 1.05)")
        print(f"the log's own cost: {_own_cost(work)}")
    finally:
        for pid, _ in started.values():
            processes.stop(pid)
        print(f"data planes' logs and the prediction log: {work}")


if __name__ == "__main__":
    main()
