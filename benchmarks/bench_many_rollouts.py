"""Many Rollouts: one operator process, N active Rollouts, and whether their analyses run on time.

Run on demand: `.venv/bin/python benchmarks/bench_many_rollouts.py [--rollouts N] [--minutes M]`
(PAVED_LOCAL_DIR picks the local platform, as for `paved local up`). It sets up as
`bench_rollback.py` does, from the demo's building blocks: a fresh namespace with an operator of
its own, the demo's data and FeatureView, one trained ModelVersion (the candidate) and a constant
rule in MLflow (the baseline). Then N SeldonDeployments and N Rollouts, one on each, all in a
1-hour canary with no traffic: every analysis reads "no data" and waits, but still runs every
interval. The Rollouts are polled every 2 s; each distinct `status.lastAnalysisAt` is one
analysis, and its lag is how much later than one interval after the previous one it ran.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import datetime as dt
import itertools
import math
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import httpx
import numpy as np
import yaml
from bench_rollback import CANDIDATE, RollbackBench  # the same setup: data, a model, a rule

from paved.api.rollout import RolloutSpec
from paved_local.demo.scenario import GROUP, VERSION, DemoError
from paved_local.platform import QUIET_ENVIRONMENT, LocalPlatform

INTERVAL_SECONDS: Final = 30  # the product's default analysis interval
WINDOW: Final = "1m"
ERROR_LIMIT: Final = 0.5
POLL_SECONDS: Final = 2.0
# The operator at 0 Rollouts: the reference for memory and CPU. A whole minute, because the
# FeatureView materializes once a minute: the idle window holds one run, as each measured
# minute does, so the difference is the Rollouts' own.
IDLE_SECONDS: Final = 60.0
CHUNK: Final = 250  # documents per `kubectl apply`: one request stream, well under its limits
BAR_LAG_P99_SECONDS: Final = 1.0
START_SECONDS_PER_ROLLOUT: Final = 3.0  # the wait for all to start: this each, at least 15 min
PROGRESSING: Final = "Progressing"


@dataclass(frozen=True)
class Usage:
    """One reading of the operator process, from /proc (no psutil in the project)."""

    rss_kib: int
    peak_kib: int  # VmHWM: the most RSS the process ever had
    cpu_seconds: float  # user + system, all threads
    at: float  # monotonic


@dataclass(frozen=True)
class LagCounts:
    """The operator's own `paved_rollout_analysis_lag_seconds` histogram: cumulative counts."""

    buckets: dict[float, float]  # upper bound ("le") → analyses at most that late

    def since(self, earlier: LagCounts) -> LagCounts:
        return LagCounts({le: n - earlier.buckets.get(le, 0.0) for le, n in self.buckets.items()})

    @property
    def count(self) -> float:
        return self.buckets.get(math.inf, 0.0)

    def share_within(self, seconds: float) -> float:
        return self.buckets[seconds] / self.count if self.count else 0.0

    def quantile(self, q: float) -> float:
        """As PromQL's histogram_quantile: linear within the bucket the quantile falls in."""
        rank, lower, below = q * self.count, 0.0, 0.0
        for le, n in sorted(self.buckets.items()):
            if n >= rank:
                if math.isinf(le):
                    return lower
                return lower + (le - lower) * (rank - below) / (n - below) if n > below else le
            lower, below = le, n
        return lower


def lag_counts(metrics_url: str) -> LagCounts:
    text = httpx.get(metrics_url, timeout=10).text
    buckets = {}
    for line in text.splitlines():
        if line.startswith("paved_rollout_analysis_lag_seconds_bucket{"):
            le = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[math.inf if le == "+Inf" else float(le)] = float(line.split()[-1])
    return LagCounts(buckets)


@dataclass(frozen=True)
class Window:
    """The measurement, once all Rollouts are in their canary."""

    start: Usage
    end: Usage
    lags: list[float]  # seconds past one interval, over all analyses in the window
    seen_after: list[float]  # lastAnalysisAt to the poll that first showed it
    silent: list[str]  # Rollouts without a single analysis in the window
    off_track: Counter[str]  # phase and step, when not Progressing at step 0: polls x Rollouts
    lag_counts: LagCounts  # every analysis in the window, as the operator timed it


@dataclass(frozen=True)
class Result:
    rollouts: int
    idle_start: Usage
    idle: Usage  # the end of the idle window, just before the first SeldonDeployment
    deployments_applied_s: float
    rollouts_applied_s: float
    started_s: list[float]  # per Rollout: from the first Rollout applied to seen in its canary
    window: Window


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat from field 3 on: the command name (field 2) may hold spaces."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2 :].split()


def usage(pid: int) -> Usage:
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
    )
    fields = _stat_fields(pid)
    ticks = int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15
    return Usage(
        rss_kib=int(status["VmRSS"].split()[0]),
        peak_kib=int(status["VmHWM"].split()[0]),
        cpu_seconds=ticks / os.sysconf("SC_CLK_TCK"),
        at=time.monotonic(),
    )


def operator_pid(namespace: str) -> int:
    """The operator `OperatorProcess` started: our child, with this namespace on its command
    line. (The Popen is the demo's private business, and the demo is not ours to change.)"""
    wanted = f"--namespace={namespace}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            parent = int(_stat_fields(entry.name)[1])
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        if parent == os.getpid() and wanted in argv and b"operator" in argv:
            return int(entry.name)
    raise DemoError(f"no operator process for {namespace} among this process's children")


def rollout_manifest(name: str, candidate: str, deployment: str) -> dict[str, Any]:
    document: dict[str, Any] = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Rollout",
        "metadata": {"name": name},
        "spec": {
            "candidate": candidate,
            "target": {"seldonDeployment": {"name": deployment}},
            # An hour at 1%: nothing ends the canary within the measurement.
            "steps": [{"canary": {"weight": 1, "duration": "1h"}}, {"full": {}}],
            "guardrails": [{"builtin": "errorRate", "max": ERROR_LIMIT}],
            # No traffic, so every reading is "no data"; waiting keeps the Rollout in its canary,
            # analysing every interval, which is the work measured.
            "analysis": {"interval": f"{INTERVAL_SECONDS}s", "window": WINDOW, "onNoData": "wait"},
        },
    }
    RolloutSpec.model_validate(document["spec"])  # fail here, not as a Rollout the API refuses
    return document


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp)  # Python 3.11 reads the trailing "Z"


class ManyRolloutsBench(RollbackBench):
    """bench_rollback's setup (its rule, its wait for training, its printed events), reused;
    what runs on it and what is measured are this script's own."""

    def __init__(self, platform: LocalPlatform, rollouts: int, minutes: float) -> None:
        super().__init__(platform, rollbacks=0, interval=INTERVAL_SECONDS)
        run = self.started.strftime("%m%d-%H%M%S")
        self.namespace = f"many-{run}"
        self.model = f"churn-many-{run.replace('-', '')}"
        self.directory = platform.directory / "bench" / f"many-{run}"
        self.data_root = self.directory / "data"
        self.count = rollouts
        self.minutes = minutes

    async def run_many(self) -> Result:
        self.stage("Reusing (or starting) the local platform")
        endpoints = await self.start()
        try:
            pid = operator_pid(self.namespace)
            self.event(f"operator pid {pid}")
            await self._features(endpoints)
            # As in bench_rollback: the golden cases are tuned to 1,500 users, not 800.
            self.manifests[CANDIDATE]["spec"]["gates"].pop("golden", None)
            await self._apply_model_version(CANDIDATE)
            rule = await self._register_rule()  # while the candidate trains
            self.event(f"baseline rule {rule}")
            trained = await self._trained(self.manifests[CANDIDATE]["metadata"]["name"])
            candidate = str(trained["metadata"]["name"])

            self.stage(f"The operator at 0 Rollouts, for {IDLE_SECONDS:.0f}s")
            idle_start = usage(pid)
            await asyncio.sleep(IDLE_SECONDS)
            self._check_operator()
            idle = usage(pid)

            self.stage(f"{self.count} SeldonDeployments, then {self.count} Rollouts")
            base = self.manifests["00-seldondeployment.yaml"]
            deployments = []
            for k in range(1, self.count + 1):
                deployment = copy.deepcopy(base)
                deployment["metadata"]["name"] = f"sd-{k}"
                deployment["spec"]["predictors"][0]["graph"]["modelUri"] = rule
                deployments.append(deployment)
            began = time.monotonic()
            await asyncio.to_thread(self._apply_all, deployments)
            rollouts_began = time.monotonic()
            rollouts = [
                rollout_manifest(f"r-{k}", candidate, f"sd-{k}") for k in range(1, self.count + 1)
            ]
            await asyncio.to_thread(self._apply_all, rollouts)
            applied = time.monotonic()
            self.event(
                f"applied in {rollouts_began - began:.1f}s and {applied - rollouts_began:.1f}s"
            )
            started = await self._all_started(rollouts_began)
            took = max(started.values()) - rollouts_began
            self.event(f"all {self.count} in their canary {took:.1f}s after the first was applied")
            return Result(
                rollouts=self.count,
                idle_start=idle_start,
                idle=idle,
                deployments_applied_s=rollouts_began - began,
                rollouts_applied_s=applied - rollouts_began,
                started_s=sorted(t - rollouts_began for t in started.values()),
                window=await self._window(pid),
            )
        finally:
            if self._operator is not None:
                self._operator.stop()

    def _apply_all(self, documents: list[dict[str, Any]]) -> None:
        """In bulk, as a GitOps tool would: one server-side apply per CHUNK documents."""
        for first in range(0, len(documents), CHUNK):
            stream = "---\n".join(yaml.safe_dump(d) for d in documents[first : first + CHUNK])
            self._kubectl(
                self.endpoints,
                "apply",
                "--server-side",
                "-n",
                self.namespace,
                "-f",
                "-",
                stdin=stream,
            )

    async def _rollouts(self) -> list[dict[str, Any]]:
        """All of them in one list call: the poll costs the API server (and so the operator) one
        request every 2 s, whatever N is."""
        listed: dict[str, Any] = await asyncio.to_thread(
            self.objects.list_namespaced_custom_object, GROUP, VERSION, self.namespace, "rollouts"
        )
        items: list[dict[str, Any]] = listed.get("items", [])
        return items

    async def _all_started(self, since: float) -> dict[str, float]:
        """When each Rollout was first seen at step 0 with its step's start set (the router
        showed the canary's split): the measurement starts only once all are there."""
        deadline = since + max(900.0, START_SECONDS_PER_ROLLOUT * self.count)
        seen: dict[str, float] = {}
        told = since
        while True:
            self._check_operator()
            sent = time.monotonic()
            items = await self._rollouts()
            answered = time.monotonic()
            waiting = Counter[str]()
            for item in items:
                status = item.get("status") or {}
                if status.get("currentStep") == 0 and status.get("stepStartedAt"):
                    seen.setdefault(item["metadata"]["name"], answered)
                elif status.get("phase") not in (None, "Pending", PROGRESSING):
                    raise DemoError(
                        f"{item['metadata']['name']} ended {status.get('phase')}: "
                        f"{status.get('message')}"
                    )
                else:
                    waiting[f"{status.get('phase')}: {status.get('message')}"] += 1
            if len(seen) >= self.count:
                return seen
            if answered > deadline:
                raise DemoError(
                    f"{self.count - len(seen)} Rollouts not started after "
                    f"{answered - since:.0f}s: {dict(waiting.most_common(3))}"
                )
            if answered - told >= 30:
                told = answered
                self.event(
                    f"{len(seen)}/{self.count} in their canary; the rest: "
                    f"{dict(waiting.most_common(2))}"
                )
            await asyncio.sleep(max(0.0, sent + POLL_SECONDS - time.monotonic()))

    async def _window(self, pid: int) -> Window:
        self.stage(
            f"Measuring for {self.minutes:g} min: polling all Rollouts every {POLL_SECONDS:g}s"
        )
        # Per Rollout, each distinct lastAnalysisAt and the wall time of the poll that first
        # showed it. The first is the analysis before the window: the one the next lags behind.
        history: dict[str, list[tuple[dt.datetime, float]]] = {}
        off_track = Counter[str]()
        begin = usage(pid)
        assert self._operator is not None
        counted_before = lag_counts(self._operator.metrics_url)
        end = begin.at + self.minutes * 60
        told = begin.at
        while time.monotonic() < end:
            self._check_operator()
            sent = time.monotonic()
            items = await self._rollouts()
            shown = time.time()  # wall clock: compared with the operator's stamps, same host
            for item in items:
                name, status = item["metadata"]["name"], item.get("status") or {}
                if status.get("phase") != PROGRESSING or status.get("currentStep") != 0:
                    off_track[f"{status.get('phase')} step {status.get('currentStep')}"] += 1
                stamp = status.get("lastAnalysisAt")
                if stamp is None:
                    continue
                at = _parse(stamp)
                analyses = history.setdefault(name, [])
                if not analyses or analyses[-1][0] != at:
                    analyses.append((at, shown))
            if sent - told >= 60:
                told = sent
                done = sum(len(a) - 1 for a in history.values())
                self.event(f"{done:,} analyses so far")
            await asyncio.sleep(max(0.0, sent + POLL_SECONDS - time.monotonic()))
        finish = usage(pid)
        counted = lag_counts(self._operator.metrics_url).since(counted_before)
        lags, seen_after = [], []
        for analyses in history.values():
            for (previous, _), (at, shown) in itertools.pairwise(analyses):
                lags.append((at - previous).total_seconds() - INTERVAL_SECONDS)
                seen_after.append(shown - at.timestamp())
        silent = sorted(
            n for n in (f"r-{k}" for k in range(1, self.count + 1)) if len(history.get(n, [])) < 2
        )
        return Window(begin, finish, lags, seen_after, silent, off_track, counted)


def _cores(start: Usage, end: Usage) -> float:
    """CPU seconds per wall second: how many of the machine's cores the operator kept busy."""
    return (end.cpu_seconds - start.cpu_seconds) / (end.at - start.at)


def _ratio(value: float, reference: float) -> str:
    return f"{value / reference:.3f}" if reference > 0 else ""


def report(bench: ManyRolloutsBench, result: Result) -> None:
    n, window = result.rollouts, result.window
    interval = float(INTERVAL_SECONDS)
    seconds = window.end.at - window.start.at
    expected = n * seconds / interval
    # At most: a Rollout's analyses run at most once an interval, later by their lag.
    print(
        f"\n{n} Rollouts, {len(window.lags):,} analyses in {seconds:.0f}s "
        f"(at most about {expected:,.0f}: one per Rollout per {interval:g}s)"
    )
    print(f"\n{'':32} {'value':>10} {'reference':>24} {'ratio':>7}")

    def row(what: str, value: str, reference: str = "", ratio: str = "", note: str = "") -> None:
        print(f"{what:32} {value:>10} {reference:>24} {ratio:>7}  {note}".rstrip())

    # The operator's own account first: every analysis, timed where it ran. The polls below
    # see only the analyses whose status they caught, and under load a poll can miss some.
    counted = window.lag_counts
    if counted.count:
        verdict = "PASS" if counted.share_within(BAR_LAG_P99_SECONDS) >= 0.99 else "FAIL"
        every = f"interval {interval:g}s"
        row("analyses (operator's histogram)", f"{counted.count:,.0f}")
        row("  lag p50", f"{counted.quantile(0.5):.2f}s", every)
        row(
            "  lag p99",
            f"{counted.quantile(0.99):.2f}s",
            every,
            "",
            f"bar < {BAR_LAG_P99_SECONDS:g}s: {verdict}",
        )
        row(
            f"  share within {BAR_LAG_P99_SECONDS:g}s",
            f"{counted.share_within(BAR_LAG_P99_SECONDS):.4f}",
            "bar 0.99",
        )
        row("  share within 0.5s", f"{counted.share_within(0.5):.4f}")
    if window.lags:
        print("from the polls:")
        p50, p99, worst = (float(x) for x in np.percentile(window.lags, [50, 99, 100]))
        verdict = "PASS" if p99 < BAR_LAG_P99_SECONDS else "FAIL"
        every = f"interval {interval:g}s"
        row("analysis lag p50", f"{p50:.2f}s", every, _ratio(p50, interval))
        row(
            "analysis lag p99",
            f"{p99:.2f}s",
            every,
            _ratio(p99, interval),
            f"bar < {BAR_LAG_P99_SECONDS:g}s: {verdict}",
        )
        row("analysis lag max", f"{worst:.2f}s", every, _ratio(worst, interval))
        seen50, seen99 = (float(x) for x in np.percentile(window.seen_after, [50, 99]))
        poll = f"poll every {POLL_SECONDS:g}s"
        row("stamp to seen by a poll p50", f"{seen50:.2f}s", poll, _ratio(seen50, POLL_SECONDS))
        row("stamp to seen by a poll p99", f"{seen99:.2f}s", poll, _ratio(seen99, POLL_SECONDS))
    else:
        row("analysis lag", "none", note="no Rollout analysed twice in the window: FAIL")
    mib = 1024.0
    idle = f"0 Rollouts {result.idle.rss_kib / mib:.0f} MiB"
    row("RSS at 0 Rollouts", f"{result.idle.rss_kib / mib:.0f} MiB")
    row(
        f"RSS at {n} Rollouts (end)",
        f"{window.end.rss_kib / mib:.0f} MiB",
        idle,
        _ratio(window.end.rss_kib, result.idle.rss_kib),
    )
    row("RSS added per Rollout", f"{(window.end.rss_kib - result.idle.rss_kib) / n:.0f} KiB")
    row(
        "peak RSS (VmHWM) at the end",
        f"{window.end.peak_kib / mib:.0f} MiB",
        f"at 0 Rollouts {result.idle.peak_kib / mib:.0f} MiB",
        _ratio(window.end.peak_kib, result.idle.peak_kib),
    )
    idle_cores = _cores(result.idle_start, result.idle)
    busy_cores = _cores(window.start, window.end)
    cpu = window.end.cpu_seconds - window.start.cpu_seconds
    row("operator CPU in the window", f"{cpu:.1f}s", f"wall {seconds:.0f}s")
    row(
        "cores busy (CPU s / wall s)",
        f"{busy_cores:.3f}",
        f"0 Rollouts {idle_cores:.3f}",
        _ratio(busy_cores, idle_cores),
    )
    # What the Rollouts cost on top of what the operator does at 0 (the FeatureView's timer
    # and materializations, the ModelVersion's timer, kopf's own work).
    above = (busy_cores - idle_cores) * seconds
    row("CPU above the 0-Rollout rate", f"{above:.1f}s", f"wall {seconds:.0f}s")
    row("  per Rollout", f"{above / seconds / n * 1000:.2f} mcore")
    if window.lags:
        row(
            "  per analysis",
            f"{above / len(window.lags) * 1000:.1f} ms",
            "with its 1 s no-op ticks",
        )
    started = result.started_s
    since = "since the first applied"
    row("SeldonDeployments applied", f"{result.deployments_applied_s:.1f}s")
    row("Rollouts applied", f"{result.rollouts_applied_s:.1f}s")
    row("first Rollout in its canary", f"{started[0]:.1f}s", since)
    row("half of them", f"{started[(len(started) - 1) // 2]:.1f}s", since)
    row("all of them", f"{started[-1]:.1f}s", since)
    if window.silent:
        print(
            f"\nno analysis in the window: {len(window.silent)} Rollouts, e.g. "
            f"{', '.join(window.silent[:5])}"
        )
    if window.off_track:
        print(f"seen off their canary (polls x Rollouts): {dict(window.off_track)}")
    print(
        f"\nnamespace {bench.namespace} kept (its {n} SeldonDeployments stay served by the "
        f"data plane); operator log {bench.directory / 'operator.log'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rollouts", type=int, default=500, help="how many (default 500)")
    parser.add_argument(
        "--minutes",
        type=float,
        default=4.0,
        help="how long to measure, once all are in their canary (default 4)",
    )
    arguments = parser.parse_args()
    if arguments.rollouts < 1 or arguments.minutes <= 0:
        parser.error("--rollouts must be at least 1 and --minutes above 0")
    # MLflow phones home unless told not to; this process logs the baseline rule to it.
    for key, value in QUIET_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    platform = LocalPlatform()
    print(
        f"python {sys.version.split()[0]}, platform {platform.directory}, "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    bench = ManyRolloutsBench(platform, arguments.rollouts, arguments.minutes)
    try:
        result = asyncio.run(bench.run_many())
    except DemoError as error:
        sys.exit(f"bench_many_rollouts: {error}")
    report(bench, result)
    print(f"load average at the end {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
