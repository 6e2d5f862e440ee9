"""The demo: a churn model from raw activity to a rolled-out, then rolled-back, deployment.

It drives the platform only the way a user would: manifests applied to the API server, a sign-off
made as a person (checked by the API server), requests sent to the serving endpoint. The operator
does the rest. Durations come from the manifests, multiplied by `time_scale` (a setting, not a
second code path), so the whole story takes minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.resources
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol, TypeVar

import httpx
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from paved.adapters.kubernetes.approvals import sign_off
from paved.adapters.kubernetes_api import api_client
from paved.adapters.metrics.prometheus import PrometheusMetrics
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.api.crds import ALL_KINDS, render, render_policies
from paved.api.meta import parse_duration
from paved.api.model_version import Stage
from paved.api.rollout import BuiltinGuardrail, RolloutSpec
from paved.core.guardrails import builtin_queries
from paved.core.model_versions import registered_model_name
from paved.features import FeatureStore
from paved.settings import OperatorSettings
from paved_local import processes
from paved_local.dataplane.load import Example, LoadStats, generate_load
from paved_local.demo import data
from paved_local.demo.record import (
    AbEstimate,
    DemoRecord,
    Event,
    GateResult,
    GuardrailSample,
    Lineage,
    Outcome,
    Rollback,
    TrafficSample,
)
from paved_local.platform import Endpoints, LocalPlatform

GROUP: Final = "paved.dev"
VERSION: Final = "v1alpha1"
DEPLOYMENT: Final = "churn"
APPROVER: Final = "demo-user"
APPROVERS: Final = "ml-approvers"
# Below these, Prometheus (scraping every 2 s) has too few samples for a rate to mean anything.
MIN_INTERVAL: Final = dt.timedelta(seconds=2)
MIN_WINDOW: Final = dt.timedelta(seconds=20)

T = TypeVar("T")


class DemoError(Exception):
    """The story could not go on; the message says where and why."""


@dataclass(frozen=True)
class DemoOptions:
    time_scale: float = 0.05  # 10 minutes in a manifest take 30 seconds
    users: int = 1500
    requests_per_second: float = 40.0
    fault_error_rate: float = 0.25
    timeout_seconds: float = 900.0  # for any one wait
    directory: Path | None = None  # default: <platform>/demo/<run>


@dataclass
class Live:
    """What the terminal shows now."""

    stage: str = ""
    elapsed: float = 0.0
    models: dict[str, str] = field(default_factory=dict)  # ModelVersion → phase
    rollout: str | None = None
    phase: str | None = None
    step: str | None = None
    traffic: tuple[int, int, bool] | None = None
    guardrails: list[GuardrailSample] = field(default_factory=list)
    experiment: AbEstimate | None = None
    load: LoadStats | None = None
    events: list[str] = field(default_factory=list)


class Display(Protocol):
    def show(self, live: Live) -> None: ...


def manifests() -> dict[str, dict[str, Any]]:
    """The demo's resources (also in examples/demo), by file name."""
    folder = importlib.resources.files("paved_local.demo") / "manifests"
    return {
        entry.name: yaml.safe_load(entry.read_text())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    }


def compress(rollout: dict[str, Any], scale: float) -> dict[str, Any]:
    """The same rollout on a shorter clock: every duration times `scale`, within Prometheus's
    resolution for the analysis."""

    def scaled(value: str, floor: dt.timedelta = dt.timedelta(seconds=1)) -> str:
        seconds = max(parse_duration(value) * scale, floor).total_seconds()
        return f"{round(seconds)}s"

    spec = rollout["spec"]
    for step in spec["steps"]:
        for kind, key in (("shadow", "duration"), ("canary", "duration"), ("pause", "duration"),
                          ("abTest", "maxDuration")):  # fmt: skip
            if key in (step.get(kind) or {}):
                step[kind][key] = scaled(step[kind][key])
    analysis = spec.setdefault("analysis", {})
    analysis["interval"] = scaled(analysis.get("interval", "30s"), MIN_INTERVAL)
    analysis["window"] = scaled(analysis.get("window", "1m"), MIN_WINDOW)
    if "maxNoData" in analysis:
        analysis["maxNoData"] = scaled(analysis["maxNoData"])
    RolloutSpec.model_validate(spec)  # a compressed spec is still a valid one
    return rollout


class OperatorProcess:
    """`paved operator` for the demo, as its own process, stopped when the demo ends."""

    def __init__(
        self, endpoints: Endpoints, directory: Path, data_root: Path, namespace: str
    ) -> None:
        self.log = directory / "operator.log"
        self.state = directory / "operator-state"
        metrics_port = processes.free_port()
        self.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
        # Only the demo's namespace: what else the cluster holds is not the demo's to train.
        self._command = [
            sys.executable, "-m", "paved", "operator", f"--kubeconfig={endpoints.kubeconfig}",
            f"--namespace={namespace}",
            "--bind=127.0.0.1", f"--health-port={processes.free_port()}",
            f"--metrics-port={metrics_port}",
        ]  # fmt: skip
        self._environment = {
            **os.environ,
            **endpoints.exports(),
            "PAVED_REDIS_URL": endpoints.redis,
            "PAVED_DATA_ROOT": str(data_root),
            "PAVED_STATE_DIR": str(self.state),
            "PAVED_MLFLOW_TRACKING_URI": endpoints.mlflow,
            "PAVED_PROMETHEUS_URL": endpoints.prometheus,
            "PAVED_CODE_COMMIT": _code_commit(),
        }
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as output:
            self._process = subprocess.Popen(
                self._command, stdout=output, stderr=subprocess.STDOUT, env=self._environment
            )

    def check(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            tail = "\n".join(self.log.read_text(errors="replace").splitlines()[-15:])
            raise DemoError(f"the operator exited; the end of {self.log}:\n{tail}")

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        # Training runs outlive an operator on purpose (a restart must find them); the demo's
        # end is theirs too.
        for pid_file in self.state.glob("runs/*/pid"):
            with contextlib.suppress(ValueError, OSError):
                pid = int(pid_file.read_text())
                if processes.is_running(pid, "paved_pipelines"):  # not a recycled pid
                    processes.stop(pid, grace_seconds=5)


def _code_commit() -> str:
    try:
        found = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
            cwd=Path(__file__).parent,
        )  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return found.stdout.strip() or "unknown"


class Demo:
    def __init__(self, platform: LocalPlatform, options: DemoOptions, display: Display) -> None:
        self.platform = platform
        self.options = options
        self.display = display
        self.live = Live()
        self.started = dt.datetime.now(dt.UTC)
        self._monotonic_start = time.monotonic()
        self.record = DemoRecord(started_at=self.started, time_scale=options.time_scale)
        run = self.started.strftime("%m%d-%H%M%S")
        self.namespace = f"demo-{run}"
        self.model = "churn"
        # Each run's namespace is its own: the registry keeps its churn apart from other runs'.
        self.registered_model = registered_model_name(self.namespace, self.model)
        self.directory = options.directory or platform.directory / "demo" / run
        self.data_root = self.directory / "data"
        # What the demo's namespace may read: its folder under the operator's data root.
        self.namespace_data = self.data_root / self.namespace
        self.manifests = manifests()
        self._load_stop = asyncio.Event()
        self._load: asyncio.Task[LoadStats] | None = None
        self._operator: OperatorProcess | None = None
        self._seen_readings: set[tuple[str, str, str]] = set()

    # -- telling the story -------------------------------------------------------------------

    def now(self) -> float:
        return round(time.monotonic() - self._monotonic_start, 2)

    def stage(self, text: str) -> None:
        self.live.stage = text
        self.event(text)

    def event(self, text: str) -> None:
        self.record.events.append(Event(at=self.now(), text=text))
        self.live.events = [*self.live.events[-7:], f"{self.now():6.1f}s  {text}"]
        self.refresh()

    def refresh(self) -> None:
        self.live.elapsed = self.now()
        self.display.show(self.live)

    async def wait(
        self, probe: Callable[[], Awaitable[T | None]], what: str, interval: float = 1.0
    ) -> T:
        deadline = time.monotonic() + self.options.timeout_seconds
        while time.monotonic() < deadline:
            if self._operator is not None:
                self._operator.check()
            found = await probe()
            if found:
                return found
            self.refresh()
            await asyncio.sleep(interval)
        raise DemoError(f"gave up after {self.options.timeout_seconds:.0f}s waiting for {what}")

    # -- the cluster, as a user touches it ------------------------------------------------------

    def _kubectl(self, endpoints: Endpoints, *arguments: str, stdin: str | None = None) -> str:
        kubectl = next(
            (Path(d) / "kubectl" for d in endpoints.bin_dirs if (Path(d) / "kubectl").is_file()),
            None,
        )
        if kubectl is None:
            raise DemoError("no kubectl in the local toolchain: run `paved local up` once")
        done = subprocess.run(
            [str(kubectl), f"--kubeconfig={endpoints.kubeconfig}", *arguments],
            input=stdin, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise DemoError(f"kubectl {' '.join(arguments)}: {done.stderr.strip()}")
        return done.stdout

    def apply(self, endpoints: Endpoints, document: dict[str, Any]) -> None:
        self._kubectl(endpoints, "apply", "-n", self.namespace, "-f", "-",
                      stdin=yaml.safe_dump(document))  # fmt: skip

    async def get(self, plural: str, name: str) -> dict[str, Any]:
        try:
            found: dict[str, Any] = await asyncio.to_thread(
                self.objects.get_namespaced_custom_object,
                GROUP, VERSION, self.namespace, plural, name,
            )  # fmt: skip
        except ApiException as error:
            if error.status == 404:
                return {}
            raise
        return found

    # -- the story -------------------------------------------------------------------------------

    def run_sync(self) -> DemoRecord:
        return asyncio.run(self.run())

    async def start(self) -> Endpoints:
        """The platform up, the clients, the CRDs, a namespace and an operator for it alone."""
        endpoints = await asyncio.to_thread(self.platform.up, None, self.event)
        self.endpoints = endpoints
        self.api = api_client(str(endpoints.kubeconfig))
        self.objects = client.CustomObjectsApi(self.api)
        self.registry = MlflowRegistry(endpoints.mlflow)
        self.metrics = PrometheusMetrics(endpoints.prometheus)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._install(endpoints)
        self._operator = OperatorProcess(endpoints, self.directory, self.data_root, self.namespace)
        self._operator.start()
        self.event(f"operator started for {self.namespace} only (log: {self._operator.log})")
        return endpoints

    async def run(self) -> DemoRecord:
        self.stage("Starting the local platform (API server, etcd, Redis, Prometheus, MLflow, "
                   "the Seldon-compatible data plane)")  # fmt: skip
        endpoints = await self.start()
        watcher = asyncio.create_task(self._watch())
        try:
            await self._features(endpoints)
            v1 = await self._train("02-modelversion-v1.yaml")
            await self._apply_model_version("03-modelversion-v2.yaml")
            await self._serve(endpoints, v1)
            v2 = await self._train("03-modelversion-v2.yaml")
            # v3 trains after v2's rollout: training beside a canary would be measured as the
            # canary's latency on a small machine.
            await self._roll_out("04-rollout-v2.yaml", v2, expect="Succeeded")
            v3 = await self._train("05-modelversion-v3.yaml")
            await self._roll_out("06-rollout-v3.yaml", v3, expect="RolledBack", faulty=True)
            await self._lineage(v2)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
            await self._stop_load()
            if self._operator is not None:
                self._operator.stop()
        self.record.finished_at = dt.datetime.now(dt.UTC)
        self.stage("Done")
        return self.record

    def _install(self, endpoints: Endpoints) -> None:
        self.stage("Installing paved's CRDs and the sign-off policy; a namespace for the demo")
        documents = [render(kind) for kind in ALL_KINDS] + [render_policies()]
        self._kubectl(endpoints, "apply", "--server-side", "--force-conflicts", "-f", "-",
                      stdin="---\n".join(documents))  # fmt: skip
        for kind in ALL_KINDS:
            self._kubectl(endpoints, "wait", "--for=condition=Established",
                          f"crd/{kind.crd_name}", "--timeout=60s")  # fmt: skip
        self._kubectl(endpoints, "create", "namespace", self.namespace)
        self._kubectl(endpoints, "create", "role", "approve", "--verb=get,patch",
                      "--resource=modelversions.paved.dev", "-n", self.namespace)  # fmt: skip
        self._kubectl(endpoints, "create", "rolebinding", "approve", "--role=approve",
                      f"--group={APPROVERS}", "-n", self.namespace)  # fmt: skip

    async def _features(self, endpoints: Endpoints) -> None:
        self.stage("Generating a synthetic world and applying the FeatureView")
        world = await asyncio.to_thread(
            data.generate, self.namespace_data, dt.datetime.now(dt.UTC), self.options.users
        )
        self.world = world
        self.event(
            f"{world.users:,} users, {world.activity_rows:,} activity rows "
            f"({world.late_rows:,} arrived late, {world.backfilled_rows:,} backfilled today), "
            f"{world.label_rows:,} churn labels with an age band (a protected cohort)"
        )
        self.apply(endpoints, self.manifests["01-featureview.yaml"])
        name = self.manifests["01-featureview.yaml"]["metadata"]["name"]

        async def fresh() -> dict[str, Any] | None:
            view = await self.get("featureviews", name)
            status = view.get("status") or {}
            return status if _condition(status, "Fresh") == "True" and status.get(
                "lastMaterialization") else None  # fmt: skip

        status = await self.wait(fresh, "the FeatureView to be materialized and fresh")
        self.event(f"FeatureView {name} version {status.get('version', '?')[:12]} materialized "
                   f"into Redis up to {status.get('watermark', '?')[:19]}: "
                   f"{status.get('freshnessSummary', 'fresh')}")  # fmt: skip

    async def _apply_model_version(self, manifest: str) -> None:
        document = self.manifests[manifest]
        document["spec"]["model"] = self.model
        self.apply(self.endpoints, document)
        self.live.models[document["metadata"]["name"]] = "Pending"
        self.event(f"applied ModelVersion {document['metadata']['name']}: a KFP pipeline run "
                   "trains it")  # fmt: skip

    async def _train(self, manifest: str) -> dict[str, Any]:
        name = self.manifests[manifest]["metadata"]["name"]
        if name not in self.live.models:
            await self._apply_model_version(manifest)
        self.stage(f"Training {name}: point-in-time join, time split, gates")

        async def settled() -> dict[str, Any] | None:
            found = await self.get("modelversions", name)
            phase = (found.get("status") or {}).get("phase")
            return found if phase in ("Staging", "Held", "Failed", "Production") else None

        trained = await self.wait(settled, f"ModelVersion {name} to finish training")
        status = trained["status"]
        for gate in status.get("gates", []):
            verdict = {"pass": True, "fail": False}.get(gate["verdict"])
            self.record.gates.append(
                GateResult(model_version=name, gate=gate["name"], passed=verdict,
                           message=gate.get("message", ""))
            )  # fmt: skip
        if status["phase"] != "Staging":
            raise DemoError(f"{name} ended {status['phase']}: {status.get('gatesSummary')}")
        metrics = (status.get("lineage") or {}).get("metrics") or {}
        auc = metrics.get("auc", float("nan"))
        self.event(f"{name} registered as {status['registry']['uri']}: gates "
                   f"{status.get('gatesSummary')}, AUC {auc:.3f}")  # fmt: skip
        user_api = api_client(str(self.platform.user_kubeconfig(APPROVER, (APPROVERS,))))
        signer = await asyncio.to_thread(
            sign_off, user_api, self.namespace, name, "reviewed the gates and the slices"
        )
        self.event(f"{name} signed off by {signer} (the API server checked it is them)")
        return trained

    async def _serve(self, endpoints: Endpoints, v1: dict[str, Any]) -> None:
        self.stage("Serving v1 behind a SeldonDeployment, under steady traffic")
        uri = v1["status"]["registry"]["uri"]
        deployment = self.manifests["00-seldondeployment.yaml"]
        deployment["spec"]["predictors"][0]["graph"]["modelUri"] = uri
        self.apply(endpoints, deployment)
        # The first version has nothing to be compared with: it goes to production directly.
        await self.registry.set_stage(self.registered_model, v1["status"]["registry"]["version"],
                                      Stage.PRODUCTION)  # fmt: skip

        async def served() -> bool:
            async with httpx.AsyncClient() as http:
                routes = (await http.get(f"{endpoints.dataplane}/v1/deployments")).json()
            return any(r["namespace"] == self.namespace and r["deployment"] == DEPLOYMENT
                       for r in routes["routes"])  # fmt: skip

        await self.wait(served, "the data plane to serve the deployment")
        examples = await asyncio.to_thread(self._examples, endpoints)
        self._load = asyncio.create_task(generate_load(
            endpoints.dataplane, self.namespace, DEPLOYMENT, examples,
            self.options.requests_per_second, self._load_stop,
        ))  # fmt: skip
        self.event(f"{self.options.requests_per_second:g} requests/s from {len(examples):,} users' "
                   "online features; each outcome comes back as Seldon feedback")  # fmt: skip

    def _examples(self, endpoints: Endpoints) -> list[Example]:
        """Requests as the application makes them: each user's features from the online store."""
        settings = OperatorSettings(
            kubeconfig=str(endpoints.kubeconfig), redis_url=endpoints.redis,
            data_root=str(self.data_root),
        )  # fmt: skip
        store = FeatureStore.from_cluster(self.namespace, settings)
        view = self.manifests["01-featureview.yaml"]["metadata"]["name"]
        labels = data.latest_labels(self.namespace_data, self.world)
        users = sorted(labels)
        online = store.get_online_features(
            [{"user_id": u} for u in users], [f"{view}:{f}" for f in data.FEATURES],
            dt.datetime.now(dt.UTC),
        )  # fmt: skip
        names = [c.split("__", 1)[-1] for c in online.columns]
        return [
            Example(dict(zip(names, values, strict=True)), labels[user])
            for user, values in zip(users, online.values, strict=True)
            if all(v is not None for v in values)
        ]

    async def _roll_out(
        self, manifest: str, candidate: dict[str, Any], expect: str, faulty: bool = False
    ) -> None:
        rollout = compress(self.manifests[manifest], self.options.time_scale)
        name = rollout["metadata"]["name"]
        uri = candidate["status"]["registry"]["uri"]
        if faulty:
            async with httpx.AsyncClient() as http:
                fault = {"modelUri": uri, "predictor": "candidate",
                         "errorRate": self.options.fault_error_rate}  # fmt: skip
                (await http.put(f"{self.endpoints.dataplane}/v1/faults", json=fault)
                 ).raise_for_status()  # fmt: skip
            share = f"{self.options.fault_error_rate:.0%}"
            self.event(f"fault: {candidate['metadata']['name']} fails {share} of the live "
                       "requests it serves")  # fmt: skip
        self.stage(f"Rolling {candidate['metadata']['name']} out: "
                   + " → ".join(next(iter(s)) for s in rollout["spec"]["steps"]))  # fmt: skip
        self.live.rollout, self.live.experiment, self.live.guardrails = name, None, []
        self.apply(self.endpoints, rollout)
        breach: asyncio.Task[float | None] | None = None
        if faulty:
            breach = asyncio.create_task(self._breach_seen(rollout))

        async def finished() -> dict[str, Any] | None:
            found = await self.get("rollouts", name)
            status = found.get("status") or {}
            return found if status.get("phase") in ("Succeeded", "RolledBack", "Failed") else None

        done = await self.wait(finished, f"Rollout {name} to finish", interval=0.5)
        status = done["status"]
        # The reading that ended it lands with the verdict: sampled here, not left to the watcher.
        self._sample(name, status)
        condition: dict[str, Any] = next(
            (c for c in status.get("conditions", []) if c["type"] == "Progressing"), {}
        )
        restored_at = self.now()
        self.event(f"{name}: {status['phase']} ({condition.get('reason')}): "
                   f"{condition.get('message')}")  # fmt: skip
        if status["phase"] != expect:
            raise DemoError(f"{name} ended {status['phase']}, expected {expect}: "
                            f"{condition.get('message')}")  # fmt: skip
        model_version = candidate["metadata"]["name"]
        if status["phase"] == "RolledBack":
            breach_at = await breach if breach is not None else None
            took = None if breach_at is None else round(restored_at - breach_at, 2)
            self.record.rollbacks.append(Rollback(
                rollout=name, reason=str(condition.get("reason")),
                message=str(condition.get("message")), breach_to_restore_seconds=took,
            ))  # fmt: skip
            if took is not None:
                self.event(f"breach visible in Prometheus → baseline back at 100%: {took:.1f}s")
            self.record.outcomes.append(Outcome(
                model_version=model_version, result="rolled back",
                detail=f"{condition.get('reason')}: {condition.get('message')}",
            ))  # fmt: skip
        else:
            experiment = status.get("experiment") or {}
            self.record.outcomes.append(Outcome(
                model_version=model_version, result="production",
                detail=f"A/B {experiment.get('outcome', '?')}: effect "
                       f"{experiment.get('effect', 0):+.3f} "
                       f"[{experiment.get('low', 0):+.3f}, {experiment.get('high', 0):+.3f}]",
            ))  # fmt: skip
        if breach is not None and not breach.done():
            breach.cancel()

    async def _breach_seen(self, rollout: dict[str, Any]) -> float | None:
        """When the error-rate guardrail's own query first reads above its limit."""
        spec = RolloutSpec.model_validate(rollout["spec"])
        rule = next(g for g in spec.guardrails if g.builtin is BuiltinGuardrail.ERROR_RATE)
        query = builtin_queries(BuiltinGuardrail.ERROR_RATE, self.namespace, DEPLOYMENT,
                                "candidate", spec.analysis.window).value  # fmt: skip
        while True:
            value = await self.metrics.value(query)
            if value is not None and rule.max is not None and value > rule.max:
                return self.now()
            await asyncio.sleep(0.25)

    async def _lineage(self, v2: dict[str, Any]) -> None:
        entry = v2["status"]["registry"]
        production = await self.registry.in_stage(self.registered_model, Stage.PRODUCTION)
        if production is None or production.version != entry["version"]:
            raise DemoError(
                f"{self.registered_model}: production is not v2's version {entry['version']}"
            )
        tags = await asyncio.to_thread(self._tags, entry["version"])
        self.record.production = Lineage(model=self.registered_model, version=entry["version"],
                                         uri=entry["uri"], tags=tags)  # fmt: skip

    def _tags(self, version: str) -> dict[str, str]:
        from mlflow.tracking import MlflowClient

        found = MlflowClient(self.endpoints.mlflow).get_model_version(
            self.registered_model, version
        )
        return {str(k): str(v) for k, v in found.tags.items()}

    async def _stop_load(self) -> None:
        self._load_stop.set()
        if self._load is not None:
            self.live.load = await self._load

    # -- watching --------------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Sample what the operator reports, once a second, for the live view and the report."""
        while True:
            for name in list(self.live.models):
                found = await self.get("modelversions", name)
                self.live.models[name] = (found.get("status") or {}).get("phase") or "Pending"
            if self.live.rollout is not None:
                status = (await self.get("rollouts", self.live.rollout)).get("status") or {}
                self._sample(self.live.rollout, status)
            self.refresh()
            await asyncio.sleep(1.0)

    def _sample(self, name: str, status: dict[str, Any]) -> None:
        at = self.now()
        self.live.phase = status.get("phase")
        kind = status.get("currentStepKind")
        traffic = status.get("traffic")
        if traffic:
            self.live.traffic = (traffic["baseline"], traffic["candidate"], traffic["shadow"])
            step = {"ab_test": "A/B test"}.get(kind or "", kind or "")
            if self.live.phase == "RolledBack":
                step = "rolled back"
            self.live.step = step
            self.record.traffic.append(TrafficSample(
                at=at, rollout=name, step=step, baseline=traffic["baseline"],
                candidate=traffic["candidate"], shadow=traffic["shadow"],
            ))  # fmt: skip
        readings = []
        for reading in status.get("analysis", []):
            sample = GuardrailSample(
                at=at, rollout=name, guardrail=reading["guardrail"], value=reading.get("value"),
                threshold=reading.get("threshold"), verdict=reading["verdict"],
            )  # fmt: skip
            readings.append(sample)
            key = (name, reading["guardrail"], reading["at"])
            if key not in self._seen_readings:
                self._seen_readings.add(key)
                self.record.guardrails.append(sample)
        if readings:
            self.live.guardrails = readings
        experiment = status.get("experiment")
        if experiment:
            estimate = AbEstimate(
                at=at, rollout=name, outcome=experiment["outcome"], effect=experiment["effect"],
                low=experiment["low"], high=experiment["high"], p_value=experiment["pValue"],
                samples_baseline=experiment["samplesBaseline"],
                samples_candidate=experiment["samplesCandidate"],
                required_per_arm=experiment["requiredPerArm"],
            )  # fmt: skip
            if self.live.experiment is None or self.live.experiment.model_dump(
                exclude={"at"}) != estimate.model_dump(exclude={"at"}):  # fmt: skip
                self.record.ab.append(estimate)
            self.live.experiment = estimate


def _condition(status: dict[str, Any], kind: str) -> str | None:
    return next((c["status"] for c in status.get("conditions", []) if c["type"] == kind), None)


def summary(record: DemoRecord) -> list[str]:
    """The lines printed at the end."""
    lines = [f"{o.model_version}: {o.result} — {o.detail}" for o in record.outcomes]
    for rollback in record.rollbacks:
        if rollback.breach_to_restore_seconds is not None:
            lines.append(f"{rollback.rollout}: breach to restored traffic in "
                         f"{rollback.breach_to_restore_seconds:.1f}s")  # fmt: skip
    if record.production is not None:
        lineage = record.production.tags
        dataset = lineage.get("paved.dataset_hash", "?")[:12]
        lines.append(
            f"production: {record.production.uri} (dataset {dataset}, commit "
            f"{lineage.get('paved.code_commit', '?')}, approved by "
            f"{lineage.get('paved.approved_by', '?')})"
        )
    return lines


def write_record(record: DemoRecord, path: Path) -> Path:
    path.write_text(json.dumps(record.model_dump(mode="json"), indent=1))
    return path
