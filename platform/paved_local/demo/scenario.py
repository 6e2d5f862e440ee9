"""The demo's story: a churn model from raw activity to a rolled-out, then rolled-back, deployment.

It drives the platform only the way a user would: manifests applied to the API server, a sign-off
made as a person (checked by the API server), requests sent to the serving endpoint. The operator
does the rest. Beside the story: `clock` (the manifests' schedule, compressed), `display` (what
the terminal shows and the report keeps), `control` (kubectl, the operator process, the load).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.resources
import json
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import httpx
import yaml

from paved.adapters.kubernetes.approvals import sign_off
from paved.adapters.kubernetes_api import api_client
from paved.adapters.metrics.prometheus import PrometheusMetrics
from paved.adapters.registry.mlflow import MlflowRegistry
from paved.adapters.traffic.seldon_v1 import builtin_queries
from paved.api.model_version import Stage
from paved.api.rollout import BuiltinGuardrail, RolloutSpec
from paved.core.model_versions import registered_model_name
from paved.core.serving import ServedModel
from paved.features import FeatureStore
from paved.settings import OperatorSettings
from paved_local.dataplane.load import Example
from paved_local.demo import data
from paved_local.demo.clock import compress, latency_limited
from paved_local.demo.control import DemoCluster, Load
from paved_local.demo.display import Display, Narrator
from paved_local.demo.errors import DemoError
from paved_local.demo.monitoring import world_drifts
from paved_local.demo.record import (
    DemoRecord,
    GateResult,
    Lineage,
    Outcome,
    Revert,
    Rollback,
)
from paved_local.demo.sites import Operator, Site
from paved_local.platform import Endpoints

DEPLOYMENT: Final = "churn"
APPROVER: Final = "demo-user"
APPROVERS: Final = "ml-approvers"
REVERT_REASON: Final = "churn-v2 over-predicts churn on this week's renewals"
# How long after a rollback the demo still looks for the breach that caused it.
BREACH_GRACE_SECONDS: Final = 10.0

T = TypeVar("T")


@dataclass(frozen=True)
class DemoOptions:
    time_scale: float = 0.05  # 10 minutes in a manifest take 30 seconds
    users: int = 1500
    requests_per_second: float | None = None  # None: the site's own (Site.requests_per_second)
    fault_error_rate: float = 0.25
    timeout_seconds: float = 900.0  # for any one wait
    directory: Path | None = None  # default: <platform>/demo/<run>


def manifests() -> dict[str, dict[str, Any]]:
    """The demo's resources (also in examples/demo), by file name."""
    folder = importlib.resources.files("paved_local.demo") / "manifests"
    return {
        entry.name: yaml.safe_load(entry.read_text())
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".yaml")
    }


class Demo:
    def __init__(self, site: Site, options: DemoOptions, display: Display) -> None:
        self.site = site
        self.options = options
        self.started = dt.datetime.now(dt.UTC)
        self.record = DemoRecord(started_at=self.started, time_scale=options.time_scale)
        self.narrator = Narrator(display, self.record)
        self.live = self.narrator.live
        run = self.started.strftime("%m%d-%H%M%S")
        self.namespace = f"demo-{run}"
        self.model = "churn"
        # Each run's namespace is its own: the registry keeps its churn apart from other runs'.
        self.registered_model = registered_model_name(self.namespace, self.model)
        self.directory = options.directory or site.directory / "demo" / run
        self.data_root = self.directory / "data"
        # What the demo's namespace may read: its folder under the operator's data root.
        self.namespace_data = self.data_root / self.namespace
        self.manifests = manifests()
        self._load = Load()
        self._operator: Operator | None = None

    def stage(self, text: str) -> None:
        self.narrator.stage(text)

    def event(self, text: str) -> None:
        self.narrator.event(text)

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
            self.narrator.refresh()
            await asyncio.sleep(interval)
        raise DemoError(f"gave up after {self.options.timeout_seconds:.0f}s waiting for {what}")

    def run_sync(self) -> DemoRecord:
        return asyncio.run(self.run())

    async def start(self) -> Endpoints:
        """The site up, the clients, the CRDs, a namespace and an operator for it."""
        endpoints = await asyncio.to_thread(self.site.up, self.event)
        self.endpoints = endpoints
        self.cluster = DemoCluster(endpoints, self.namespace)
        self.registry = MlflowRegistry(endpoints.mlflow)
        self.metrics = PrometheusMetrics(endpoints.prometheus)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.stage("Installing paved's CRDs and the sign-off policy; a namespace for the demo")
        self.site.install_paved(self.cluster)
        self.cluster.create_namespace(APPROVERS)
        self._operator = self.site.start_operator(endpoints, self.directory, self.namespace)
        self.event(self._operator.description)
        return endpoints

    async def run(self) -> DemoRecord:
        self.stage(f"Starting {self.site.description}")
        endpoints = await self.start()
        watcher = asyncio.create_task(self.narrator.watch(self.cluster.get))
        try:
            await self._features()
            v1 = await self._train("02-modelversion-v1.yaml")
            await self._serve(endpoints, v1)
            # v2 trains once v1 serves: its gates compare with v1, the model serving now.
            v2 = await self._train("03-modelversion-v2.yaml")
            # v3 trains after v2's rollout: training beside a canary would be measured as the
            # canary's latency on a small machine.
            await self._roll_out("04-rollout-v2.yaml", v2, expect="Succeeded")
            v3 = await self._train("05-modelversion-v3.yaml")
            await self._roll_out("06-rollout-v3.yaml", v3, expect="RolledBack", faulty=True)
            # v2 turns out wrong in production after all: one command puts v1 back.
            await self._revert(v1, v2)
            await self._lineage(v1)
            # The world drifts under v1: a ModelMonitor sees it and retrains (issue #19).
            await world_drifts(self, v1)
        finally:
            await self._stop(watcher)
        self.record.finished_at = dt.datetime.now(dt.UTC)
        self.stage("Done")
        return self.record

    async def _stop(self, watcher: asyncio.Task[None]) -> None:
        """Everything the demo started but the site: the watcher, the load, the operator."""
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        self.live.load = await self._load.stop()
        if self._operator is not None:
            self._operator.stop()
        self.site.close()

    async def _features(self) -> None:
        self.stage("Generating a synthetic world and applying the FeatureView")
        world = await asyncio.to_thread(
            data.generate, self.namespace_data, dt.datetime.now(dt.UTC), self.options.users
        )
        await asyncio.to_thread(self.site.publish_data, self.namespace_data, self.namespace)
        self.world = world
        self.event(
            f"{world.users:,} users, {world.activity_rows:,} activity rows "
            f"({world.late_rows:,} arrived late, {world.backfilled_rows:,} backfilled today), "
            f"{world.label_rows:,} churn labels with an age band (a protected cohort)"
        )
        self.cluster.apply(self.manifests["01-featureview.yaml"])
        name = self.manifests["01-featureview.yaml"]["metadata"]["name"]

        async def fresh() -> dict[str, Any] | None:
            view = await self.cluster.get("featureviews", name)
            status = view.get("status") or {}
            materialized = _condition(status, "Fresh") == "True" and status.get(
                "lastMaterialization"
            )
            return status if materialized else None

        status = await self.wait(fresh, "the FeatureView to be materialized and fresh")
        self.event(
            f"FeatureView {name} version {status.get('version', '?')[:12]} materialized "
            f"into Redis up to {status.get('watermark', '?')[:19]}: "
            f"{status.get('freshnessSummary', 'fresh')}"
        )

    async def _apply_model_version(self, manifest: str) -> None:
        document = self.manifests[manifest]
        document["spec"]["model"] = self.model
        self.cluster.apply(document)
        self.live.models[document["metadata"]["name"]] = "Pending"
        name = document["metadata"]["name"]
        self.event(f"applied ModelVersion {name}: a KFP pipeline run trains it")

    async def _train(self, manifest: str) -> dict[str, Any]:
        name = self.manifests[manifest]["metadata"]["name"]
        if name not in self.live.models:
            await self._apply_model_version(manifest)
        self.stage(f"Training {name}: point-in-time join, time split, gates")
        trained = await self.trained(name)
        status = trained["status"]
        if status["phase"] != "Staging":
            raise DemoError(f"{name} ended {status['phase']}: {status.get('gatesSummary')}")
        metrics = (status.get("lineage") or {}).get("metrics") or {}
        auc = metrics.get("auc", float("nan"))
        uri, gates = status["registry"]["uri"], status.get("gatesSummary")
        self.event(f"{name} registered as {uri}: gates {gates}, AUC {auc:.3f}")
        user_api = api_client(str(self.site.user_kubeconfig(APPROVER, (APPROVERS,))))
        signer = await asyncio.to_thread(
            sign_off, user_api, self.namespace, name, "reviewed the gates and the slices"
        )
        self.event(f"{name} signed off by {signer} (the API server checked it is them)")
        return trained

    async def trained(self, name: str) -> dict[str, Any]:
        """The ModelVersion once its training and gates have settled; its gates recorded."""

        async def settled() -> dict[str, Any] | None:
            found = await self.cluster.get("modelversions", name)
            phase = (found.get("status") or {}).get("phase")
            return found if phase in ("Staging", "Held", "Failed", "Production") else None

        trained = await self.wait(settled, f"ModelVersion {name} to finish training")
        for gate in trained["status"].get("gates", []):
            verdict = {"pass": True, "fail": False}.get(gate["verdict"])
            self.record.gates.append(
                GateResult(
                    model_version=name,
                    gate=gate["name"],
                    passed=verdict,
                    message=gate.get("message", ""),
                    value=gate.get("value"),
                    threshold=gate.get("threshold"),
                )
            )
        return trained

    async def _serve(self, endpoints: Endpoints, v1: dict[str, Any]) -> None:
        self.stage("Serving v1 behind a SeldonDeployment, under steady traffic")
        entry = v1["status"]["registry"]
        deployment = self.manifests["00-seldondeployment.yaml"]
        baseline = deployment["spec"]["predictors"][0]
        baseline["graph"]["modelUri"] = entry["uri"]
        v1_model = ServedModel(entry["uri"], entry["name"], entry["version"])
        baseline["annotations"] = v1_model.annotations()
        self.cluster.apply(deployment)
        # The first version has nothing to be compared with: it goes to production directly.
        await self.registry.set_stage(self.registered_model, entry["version"], Stage.PRODUCTION)

        async def served() -> bool:
            return await self._route() is not None

        await self.wait(served, "the data plane to serve the deployment")
        examples = await asyncio.to_thread(self.examples, endpoints)
        rate = self.options.requests_per_second or self.site.requests_per_second
        self._load.start(endpoints, self.namespace, DEPLOYMENT, examples=examples, rate=rate)
        self.event(
            f"{rate:g} requests/s from {len(examples):,} users' "
            "online features; each outcome comes back as Seldon feedback"
        )

    async def pause_load(self) -> None:
        """No more requests until `resume_load`."""
        await self._load.stop()

    def resume_load(self, examples: list[Example]) -> None:
        """The same rate of requests as before, from `examples`."""
        rate = self.options.requests_per_second or self.site.requests_per_second
        self._load.start(self.endpoints, self.namespace, DEPLOYMENT, examples=examples, rate=rate)

    async def _route(self) -> dict[str, Any] | None:
        """How the data plane routes the demo's deployment now (None: it does not serve it)."""
        async with httpx.AsyncClient() as http:
            routes = (await http.get(f"{self.endpoints.dataplane}/v1/deployments")).json()
        return next(
            (
                r
                for r in routes["routes"]
                if r["namespace"] == self.namespace and r["deployment"] == DEPLOYMENT
            ),
            None,
        )

    def examples(
        self, endpoints: Endpoints, outcomes: Mapping[int, int] | None = None
    ) -> list[Example]:
        """Requests as the application makes them: each user's features from the online store,
        and what the user does (`outcomes`; by default the world's latest labels)."""
        settings = OperatorSettings(
            kubeconfig=str(endpoints.kubeconfig),
            redis_url=endpoints.redis,
            data_root=str(self.data_root),
        )
        store = FeatureStore.from_cluster(self.namespace, settings)
        view = self.manifests["01-featureview.yaml"]["metadata"]["name"]
        labels = outcomes or data.latest_labels(self.namespace_data, self.world)
        users = sorted(labels)
        entity_rows = [{"user_id": u} for u in users]
        features = [f"{view}:{f}" for f in data.FEATURES]
        online = store.get_online_features(entity_rows, features, dt.datetime.now(dt.UTC))
        names = [c.split("__", 1)[-1] for c in online.columns]
        return [
            Example(dict(zip(names, values, strict=True)), labels[user], {"user_id": user})
            for user, values in zip(users, online.values, strict=True)
            if all(v is not None for v in values)
        ]

    async def _roll_out(
        self, manifest: str, candidate: dict[str, Any], expect: str, faulty: bool = False
    ) -> None:
        rollout = compress(self.manifests[manifest], self.options.time_scale)
        rollout = latency_limited(rollout, self.site.latency_limit_ms)
        name = rollout["metadata"]["name"]
        if faulty:
            await self._inject_fault(candidate)
        steps = " → ".join(next(iter(s)) for s in rollout["spec"]["steps"])
        self.stage(f"Rolling {candidate['metadata']['name']} out: {steps}")
        self.live.rollout, self.live.experiment, self.live.guardrails = name, None, []
        self.cluster.apply(rollout)
        breach = asyncio.create_task(self._breach_seen(rollout)) if faulty else None

        async def finished() -> dict[str, Any] | None:
            found = await self.cluster.get("rollouts", name)
            status = found.get("status") or {}
            return found if status.get("phase") in ("Succeeded", "RolledBack", "Failed") else None

        done = await self.wait(finished, f"Rollout {name} to finish", interval=0.5)
        status = done["status"]
        # The reading that ended it lands with the verdict: sampled here, not left to the watcher.
        self.narrator.sample(name, status)
        condition: dict[str, Any] = next(
            (c for c in status.get("conditions", []) if c["type"] == "Progressing"), {}
        )
        restored_at = self.narrator.now()
        reason, message = condition.get("reason"), condition.get("message")
        self.event(f"{name}: {status['phase']} ({reason}): {message}")
        if status["phase"] != expect:
            raise DemoError(f"{name} ended {status['phase']}, expected {expect}: {message}")
        model_version = candidate["metadata"]["name"]
        if status["phase"] == "RolledBack":
            breach_at = await _at_most(breach, BREACH_GRACE_SECONDS)
            took = None if breach_at is None else round(restored_at - breach_at, 2)
            self._rolled_back(name, model_version, condition, took)
        else:
            self._promoted(model_version, status.get("experiment") or {})
        if breach is not None and not breach.done():
            breach.cancel()

    async def _inject_fault(self, candidate: dict[str, Any]) -> None:
        """The candidate fails a share of the live requests it serves."""
        uri = candidate["status"]["registry"]["uri"]
        share = self.options.fault_error_rate
        fault = {"modelUri": uri, "predictor": "candidate", "errorRate": share}
        async with httpx.AsyncClient() as http:
            answer = await http.put(f"{self.endpoints.dataplane}/v1/faults", json=fault)
            answer.raise_for_status()
        name = candidate["metadata"]["name"]
        self.event(f"fault: {name} fails {share:.0%} of the live requests it serves")

    def _rolled_back(
        self, rollout: str, model_version: str, condition: dict[str, Any], took: float | None
    ) -> None:
        reason, message = str(condition.get("reason")), str(condition.get("message"))
        self.record.rollbacks.append(
            Rollback(
                rollout=rollout, reason=reason, message=message, breach_to_restore_seconds=took
            )
        )
        if took is not None:
            self.event(f"breach visible in Prometheus → baseline back at 100%: {took:.1f}s")
        detail = f"{condition.get('reason')}: {condition.get('message')}"
        self.record.outcomes.append(
            Outcome(model_version=model_version, result="rolled back", detail=detail)
        )

    def _promoted(self, model_version: str, experiment: dict[str, Any]) -> None:
        low, high = experiment.get("low", 0), experiment.get("high", 0)
        detail = (
            f"A/B {experiment.get('outcome', '?')}: effect "
            f"{experiment.get('effect', 0):+.3f} [{low:+.3f}, {high:+.3f}]"
        )
        self.record.outcomes.append(
            Outcome(model_version=model_version, result="production", detail=detail)
        )

    async def _breach_seen(self, rollout: dict[str, Any]) -> float | None:
        """When the error-rate guardrail's own query first reads above its limit."""
        spec = RolloutSpec.model_validate(rollout["spec"])
        rule = next(g for g in spec.guardrails if g.builtin is BuiltinGuardrail.ERROR_RATE)
        queries = builtin_queries(
            BuiltinGuardrail.ERROR_RATE,
            self.namespace,
            DEPLOYMENT,
            "candidate",
            spec.analysis.window,
        )
        while True:
            value = await self.metrics.value(queries.value)
            if value is not None and rule.max is not None and value > rule.max:
                return self.narrator.now()
            await asyncio.sleep(0.25)

    async def _revert(self, restored: dict[str, Any], reverted: dict[str, Any]) -> None:
        """`paved model revert`, timed from the command to the data plane sending all traffic
        to the restored model again."""
        rollout = self.manifests["04-rollout-v2.yaml"]["metadata"]["name"]
        uri, name = restored["status"]["registry"]["uri"], reverted["metadata"]["name"]
        self.stage(f"Reverting {name} after its promotion: paved model revert {self.model}")
        self.live.rollout, self.live.experiment, self.live.guardrails = rollout, None, []
        started = time.monotonic()
        what = f"{uri} to take all traffic again"
        back = asyncio.create_task(self.wait(lambda: self._alone(uri), what, interval=0.1))
        arguments = ("model", "revert", self.model, "-n", self.namespace)
        done = await asyncio.to_thread(self.cluster.paved, *arguments, "--reason", REVERT_REASON)
        if done.returncode != 0:
            back.cancel()
            raise DemoError(f"paved model revert: {done.stderr.strip() or done.stdout.strip()}")
        took = round(await back - started, 2)
        self.narrator.sample(rollout, (await self.cluster.get("rollouts", rollout))["status"])
        said = done.stdout.strip().splitlines()
        message = said[0].split(": ", 1)[-1] if said else ""
        reported = re.search(r"restored in ([0-9.]+)s", done.stdout)
        self.record.reverts.append(
            Revert(
                model=self.registered_model,
                rollout=rollout,
                reason=REVERT_REASON,
                message=message,
                command_to_restored_seconds=took,
                reported_seconds=float(reported[1]) if reported else None,
            )
        )
        self.event(f"{message} Command to traffic restored: {took:.1f}s")
        self.record.outcomes.append(Outcome(model_version=name, result="reverted", detail=message))
        detail = f"restored by paved model revert: command to traffic restored in {took:.1f}s"
        self.record.outcomes.append(
            Outcome(model_version=restored["metadata"]["name"], result="production", detail=detail)
        )

    async def _alone(self, uri: str) -> float | None:
        """When the data plane is first seen sending all the deployment's traffic to `uri`."""
        route = await self._route()
        serving = {p["modelUri"] for p in (route or {}).get("live", []) if p["traffic"] > 0}
        return time.monotonic() if serving == {uri} else None

    async def _lineage(self, serving: dict[str, Any]) -> None:
        """`paved lineage` of the deployment, as a person would run it: the report's production
        section is its output."""
        subject = f"seldondeployment/{DEPLOYMENT}"
        self.stage(f"The evidence chain of what serves now: paved lineage {subject}")
        arguments = ("lineage", subject, "-n", self.namespace)
        registry = f"--tracking-uri={self.endpoints.mlflow}"
        # Printed for a person and as JSON at once: each reads the cluster and MLflow afresh.
        text, as_json = await asyncio.gather(
            asyncio.to_thread(self.cluster.paved, *arguments, registry),
            asyncio.to_thread(self.cluster.paved, *arguments, registry, "-o", "json"),
        )
        if not as_json.stdout.strip():
            raise DemoError(f"paved lineage {subject}: {as_json.stderr.strip()}")
        document = json.loads(as_json.stdout)
        lineage = Lineage(
            command=f"paved {' '.join(arguments)}",
            text=text.stdout.rstrip(),
            document=document,
            complete=document["complete"],
        )
        self.record.production = lineage
        followed = lineage.link("registryVersion").get("uri")
        if followed != serving["status"]["registry"]["uri"]:
            raise DemoError(f"{subject} serves {followed}, not {serving['metadata']['name']}")
        self.event(text.stdout.strip().splitlines()[-1])


def _condition(status: dict[str, Any], kind: str) -> str | None:
    return next((c["status"] for c in status.get("conditions", []) if c["type"] == kind), None)


def summary(record: DemoRecord) -> list[str]:
    """The lines printed at the end."""
    lines = [f"{o.model_version}: {o.result} — {o.detail}" for o in record.outcomes]
    for rollback in record.rollbacks:
        if rollback.breach_to_restore_seconds is not None:
            seconds = rollback.breach_to_restore_seconds
            lines.append(f"{rollback.rollout}: breach to restored traffic in {seconds:.1f}s")
    for revert in record.reverts:
        seconds = revert.command_to_restored_seconds
        lines.append(f"{revert.rollout}: reverted, command to traffic restored in {seconds:.1f}s")
    if record.production is not None:
        registry = record.production.link("registryVersion")
        tags = registry.get("tags") or {}
        lines.append(
            f"production: {registry.get('uri', '?')} (dataset "
            f"{tags.get('paved.dataset_hash', '?')[:12]}, commit "
            f"{tags.get('paved.code_commit', '?')}, approved by "
            f"{tags.get('paved.approved_by', '?')}); lineage "
            f"{'complete' if record.production.complete else 'INCOMPLETE'}"
        )
    return lines


def write_record(record: DemoRecord, path: Path) -> Path:
    path.write_text(json.dumps(record.model_dump(mode="json"), indent=1))
    return path


async def _at_most(breach: asyncio.Task[float | None] | None, seconds: float) -> float | None:
    """When the breach was seen, waiting at most `seconds` more: a Rollout rolled back before
    its candidate served (at its shadow step) has no candidate error rate to see, and the
    demo must not hang on it (the report then gives no breach-to-rollback time)."""
    if breach is None:
        return None
    try:
        return await asyncio.wait_for(breach, seconds)
    except TimeoutError:
        return None
