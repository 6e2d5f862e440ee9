"""Breach to rollback: from an error rate visible in Prometheus to the baseline back at 100%.

Run on demand: `.venv/bin/python benchmarks/bench_rollback.py [--rollbacks N] [--interval S]`
(PAVED_LOCAL_DIR picks the local platform, as for `paved local up`). It drives the platform as
the demo does, from the demo's own building blocks: a fresh namespace with an operator of its
own, the demo's data and FeatureView, one trained ModelVersion as the candidate, and a
SeldonDeployment whose baseline is a constant rule, under steady load. Then, N times, a Rollout
whose candidate fails half the requests it serves. "Visible" is when the error-rate guardrail's
own PromQL first reads above its limit, "restored" when the SeldonDeployment has no candidate
predictor any more and the baseline has all the traffic; both are polled every 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import statistics
import sys
import time
from dataclasses import dataclass
from typing import Any, Final

import httpx
import numpy as np

from paved.adapters.traffic.seldon_v1 import builtin_queries
from paved.api.rollout import BuiltinGuardrail, RolloutSpec
from paved_local.dataplane.load import generate_load
from paved_local.demo.scenario import (
    DEPLOYMENT,
    Demo,
    DemoError,
    DemoOptions,
    Live,
)
from paved_local.platform import QUIET_ENVIRONMENT, LocalPlatform

CANDIDATE: Final = "03-modelversion-v2.yaml"  # the demo's better model: one training, ~1-2 min
USERS: Final = 800
REQUESTS_PER_SECOND: Final = 40.0  # the candidate serves 20% of it: 8 a second, 4 of them fail
FAULT_ERROR_RATE: Final = 0.5
ERROR_LIMIT: Final = 0.05
WINDOW: Final = "10s"
POLL_SECONDS: Final = 0.1
BAR_SLACK_SECONDS: Final = 2.0  # the bar: one analysis interval plus this
ROLLBACK_TIMEOUT_SECONDS: Final = 180.0
CLEAR_TIMEOUT_SECONDS: Final = 120.0
SELDON_GROUP: Final = "machinelearning.seldon.io"


class _Quiet:
    """The demo's live view has no place in a benchmark's output: events are printed instead."""

    def show(self, live: Live) -> None:
        pass


@dataclass(frozen=True)
class Sample:
    rollout: str
    seconds: float  # restored - visible
    reading: str  # the operator's own account of the breach, from the Rollout's condition


def rollout_manifest(name: str, candidate: str, interval: int) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "candidate": candidate,
            "target": {"seldonDeployment": {"name": DEPLOYMENT}},
            # A long canary: nothing but the guardrail should end it.
            "steps": [{"canary": {"weight": 20, "duration": "10m"}}, {"full": {}}],
            "guardrails": [{"builtin": "errorRate", "max": ERROR_LIMIT}],
            "analysis": {
                "interval": f"{interval}s",
                "window": WINDOW,
                "minSamples": 5,
                "failureLimit": 0,
            },
        },
    }
    RolloutSpec.model_validate(document["spec"])  # fail here, not as a Rollout the API refuses
    return document


class RollbackBench(Demo):
    def __init__(self, platform: LocalPlatform, rollbacks: int, interval: int) -> None:
        super().__init__(
            platform,
            DemoOptions(
                users=USERS,
                requests_per_second=REQUESTS_PER_SECOND,
                fault_error_rate=FAULT_ERROR_RATE,
            ),
            _Quiet(),
        )
        run = self.started.strftime("%m%d-%H%M%S")
        self.namespace = f"bench-{run}"
        self.model = f"churn-bench-{run.replace('-', '')}"  # its own, so no gate compares
        self.directory = platform.directory / "bench" / run
        self.data_root = self.directory / "data"
        self.rollbacks = rollbacks
        self.interval = interval

    def event(self, text: str) -> None:
        super().event(text)
        print(self.live.events[-1], flush=True)

    async def measure(self) -> list[Sample]:
        self.stage("Reusing (or starting) the local platform")
        endpoints = await self.start()
        try:
            await self._features(endpoints)
            # The golden cases are tuned to the demo's 1,500-user world: on a smaller one a few
            # can land just short of their bound, the version is Held, and a Rollout serves only
            # a Staging candidate. The bench measures rollbacks, not the model.
            self.manifests[CANDIDATE]["spec"]["gates"].pop("golden", None)
            await self._apply_model_version(CANDIDATE)
            # The baseline serves, under load, while the candidate trains: only the waiting
            # overlaps, every measurement starts after training has ended.
            await self._serve_rule()
            candidate = await self._trained(self.manifests[CANDIDATE]["metadata"]["name"])
            uri = candidate["status"]["registry"]["uri"]
            async with httpx.AsyncClient() as http:
                fault = {"modelUri": uri, "predictor": "candidate", "errorRate": FAULT_ERROR_RATE}
                (await http.put(f"{endpoints.dataplane}/v1/faults", json=fault)).raise_for_status()
            self.event(f"fault: the candidate fails {FAULT_ERROR_RATE:.0%} of what it serves live")
            query = builtin_queries(
                BuiltinGuardrail.ERROR_RATE, self.namespace, DEPLOYMENT, "candidate", WINDOW
            ).value
            samples = []
            for k in range(1, self.rollbacks + 1):
                sample = await self._roll_back_once(k, candidate["metadata"]["name"], query)
                samples.append(sample)
                self.event(
                    f"{sample.rollout}: visible → restored {sample.seconds:.2f}s ({sample.reading})"
                )
            return samples
        finally:
            await self._stop_load()
            if self._operator is not None:
                self._operator.stop()

    async def _serve_rule(self) -> None:
        """The e2e test's baseline: a constant rule in MLflow, so only one model trains."""
        uri = await self._register_rule()
        deployment = self.manifests["00-seldondeployment.yaml"]
        deployment["spec"]["predictors"][0]["graph"]["modelUri"] = uri
        self.apply(self.endpoints, deployment)
        self.stage(f"SeldonDeployment {DEPLOYMENT}: baseline {uri} (a constant rule)")

        async def served() -> bool:
            async with httpx.AsyncClient() as http:
                routes = (await http.get(f"{self.endpoints.dataplane}/v1/deployments")).json()
            return any(
                r["namespace"] == self.namespace and r["deployment"] == DEPLOYMENT
                for r in routes["routes"]
            )

        await self.wait(served, "the data plane to serve the deployment")
        examples = await asyncio.to_thread(self._examples, self.endpoints)
        self._load = asyncio.create_task(
            generate_load(
                self.endpoints.dataplane,
                self.namespace,
                DEPLOYMENT,
                examples,
                REQUESTS_PER_SECOND,
                self._load_stop,
            )
        )
        self.event(f"{REQUESTS_PER_SECOND:g} requests/s from {len(examples):,} users' features")

    async def _register_rule(self) -> str:
        def log_rule() -> str:
            # Imported here: MLflow and scikit-learn take seconds to import, and only this uses
            # them in this process.
            import mlflow
            import sklearn
            from sklearn.dummy import DummyClassifier

            mlflow.set_tracking_uri(self.endpoints.mlflow)
            logging.getLogger("mlflow").setLevel(logging.WARNING)  # its run links are noise here
            rule = DummyClassifier(strategy="constant", constant=1).fit(np.zeros((2, 1)), [0, 1])
            with mlflow.start_run() as run:
                # Named requirements spare MLflow inferring them (a `uv export`, ~15 s here);
                # the data plane loads the pickle in its own environment anyway.
                mlflow.sklearn.log_model(
                    rule, name="model", pip_requirements=[f"scikit-learn=={sklearn.__version__}"]
                )
            return str(run.info.run_id)

        run_id = await asyncio.to_thread(log_rule)
        registered = await self.registry.register(f"{self.model}-rule", run_id, "rule", {})
        return registered.uri

    async def _trained(self, name: str) -> dict[str, Any]:
        """Like the demo's `_train`, without the sign-off: a rollback never reaches `full`."""
        self.stage(f"Training {name}")

        async def settled() -> dict[str, Any] | None:
            found = await self.get("modelversions", name)
            phase = (found.get("status") or {}).get("phase")
            return found if phase in ("Staging", "Held", "Failed", "Production") else None

        trained = await self.wait(settled, f"ModelVersion {name} to finish training", 2.0)
        status = trained["status"]
        # A Rollout leaves a Held candidate Pending: it would time out, not roll back.
        if status["phase"] != "Staging":
            raise DemoError(f"{name} ended {status['phase']}: {status.get('gatesSummary')}")
        self.event(
            f"{name} {status['phase']}: {status['registry']['uri']} "
            f"(gates {status.get('gatesSummary')})"
        )
        return trained

    async def _roll_back_once(self, k: int, candidate: str, query: str) -> Sample:
        await self._window_clear(query)
        name = f"r-{k}"
        # Both pollers run before the Rollout exists, so neither misses its moment.
        visible = asyncio.create_task(self._visible(query))
        restored = asyncio.create_task(self._restored())
        document = rollout_manifest(name, candidate, self.interval)
        await asyncio.to_thread(self.apply, self.endpoints, document)
        try:
            seen, back = await asyncio.wait_for(
                asyncio.gather(visible, restored), ROLLBACK_TIMEOUT_SECONDS
            )
        except TimeoutError:
            status = (await self.get("rollouts", name)).get("status") or {}
            raise DemoError(
                f"{name} not rolled back within {ROLLBACK_TIMEOUT_SECONDS:.0f}s: "
                f"{status.get('phase')}: {status.get('message')}"
            ) from None

        async def finished() -> dict[str, Any] | None:
            status = (await self.get("rollouts", name)).get("status") or {}
            return status if status.get("phase") == "RolledBack" else None

        # The router's write comes before the status's, within one reconcile.
        status = await self.wait(finished, f"Rollout {name} to show RolledBack", 0.2)
        progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
        if progressing["reason"] != "GuardrailBreached":
            raise DemoError(
                f"{name} rolled back for {progressing['reason']}, not a breach: "
                f"{progressing.get('message')}"
            )
        return Sample(name, back - seen, str(progressing.get("message")))

    async def _visible(self, query: str) -> float:
        """When the query that first read above the limit was sent: the breach was in
        Prometheus by then. (A later stamp would flatter the operator.)"""
        while True:
            self._check_operator()
            sent = time.monotonic()
            value = await self.metrics.value(query)
            if value is not None and value > ERROR_LIMIT:
                return sent
            await asyncio.sleep(max(0.0, sent + POLL_SECONDS - time.monotonic()))

    async def _restored(self) -> float:
        """When the read that first showed the baseline alone came back (an earlier stamp
        would flatter the operator). Only after the candidate has been seen: before the
        Rollout's first step the deployment is "baseline alone" too."""
        seen_candidate = False
        while True:
            self._check_operator()
            sent = time.monotonic()
            deployment: dict[str, Any] = await asyncio.to_thread(
                self.objects.get_namespaced_custom_object,
                SELDON_GROUP,
                "v1",
                self.namespace,
                "seldondeployments",
                DEPLOYMENT,
            )
            answered = time.monotonic()
            predictors = {p["name"]: p for p in deployment["spec"]["predictors"]}
            if "candidate" in predictors:
                seen_candidate = True
            elif seen_candidate and predictors.get("baseline", {}).get("traffic") == 100:
                return answered
            await asyncio.sleep(max(0.0, sent + POLL_SECONDS - time.monotonic()))

    async def _window_clear(self, query: str) -> None:
        """The last rollout's errors leave the window before the next starts: otherwise the
        breach would be "visible" before the candidate serves a single request."""
        deadline = time.monotonic() + CLEAR_TIMEOUT_SECONDS
        while (value := await self.metrics.value(query)) not in (None, 0.0):
            if time.monotonic() > deadline:
                raise DemoError(
                    f"the candidate's error rate stayed at {value} for "
                    f"{CLEAR_TIMEOUT_SECONDS:.0f}s with no candidate"
                )
            await asyncio.sleep(0.5)

    def _check_operator(self) -> None:
        if self._operator is not None:
            self._operator.check()


def verdict(seconds: float, bar: float) -> str:
    return "meets bar" if seconds <= bar else "MISSES bar"


def report(bench: RollbackBench, samples: list[Sample]) -> None:
    interval = float(bench.interval)
    bar = interval + BAR_SLACK_SECONDS
    print(f"\n{'rollback':10} {'visible → restored s':>21}  the operator's reading")
    for sample in samples:
        print(f"{sample.rollout:10} {sample.seconds:21.2f}  {sample.reading}")
    seconds = [s.seconds for s in samples]
    p50, worst = statistics.median(seconds), max(seconds)
    print(f"\n{'over ' + str(len(samples)) + ' rollbacks':30} {'seconds':>8} {'x interval':>11}")
    print(f"{'analysis interval (reference)':30} {interval:8.2f} {1.0:11.2f}")
    print(f"{'bar: interval + 2 s':30} {bar:8.2f} {bar / interval:11.2f}")
    print(f"{'p50':30} {p50:8.2f} {p50 / interval:11.2f}  {verdict(p50, bar)}")
    print(f"{'max':30} {worst:8.2f} {worst / interval:11.2f}  {verdict(worst, bar)}")
    load = bench.live.load
    if load is not None:
        print(
            f"\nload: {load.sent:,} sent, {load.failed:,} failed, {load.skipped:,} skipped "
            f"(in flight at the cap); by predictor {dict(load.by_predictor)}"
        )
    print(f"namespace {bench.namespace} kept; operator log {bench.directory / 'operator.log'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rollbacks", type=int, default=20, help="how many (default 20)")
    parser.add_argument(
        "--interval",
        type=int,
        default=2,
        help="the Rollouts' analysis interval in seconds (default 2)",
    )
    arguments = parser.parse_args()
    if arguments.rollbacks < 1 or arguments.interval < 1:
        parser.error("--rollbacks and --interval must be at least 1")
    # MLflow phones home unless told not to; this process logs the baseline rule to it.
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    platform = LocalPlatform()
    print(
        f"python {sys.version.split()[0]}, platform {platform.directory}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    )
    bench = RollbackBench(platform, arguments.rollbacks, arguments.interval)
    try:
        samples = asyncio.run(bench.measure())
    except DemoError as error:
        sys.exit(f"bench_rollback: {error}")
    report(bench, samples)


if __name__ == "__main__":
    main()
