"""`StreamWorkers` as processes beside the operator (the local platform): one per replica.

Each StreamingPrediction has a directory `<root>/<namespace>/<name>/`: the plan the operator
decided (`plan.json`) and, per replica i, `worker-<i>/` with its pid, the plan digest it runs,
its log, where its metrics answer (`metrics`: host:port) and, once it consumes, its pid
again (`ready`). Replica i is consumer
`<name>-<i>` in the group, whatever process runs it, so a replaced worker takes back its
predecessor's pending events at once. A worker ends when the operator that started it does
(it watches its parent); the next operator starts it again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Final

from paved.adapters.local_processes import alive, spawn, stop
from paved.core.streaming_predictions import WorkerPlan

WORKER_MODULE: Final = "paved.streaming_prediction"


def consumer_name(name: str, replica: int) -> str:
    return f"{name}-{replica}"


class ProcessWorkers:
    def __init__(self, root: Path) -> None:
        self._root = root

    def _directory(self, namespace: str, name: str) -> Path:
        return self._root / namespace / name

    async def apply(self, plan: WorkerPlan) -> int:
        return await asyncio.to_thread(self._apply, plan)

    async def remove(self, namespace: str, name: str) -> int:
        return await asyncio.to_thread(self._remove, namespace, name)

    def _apply(self, plan: WorkerPlan) -> int:
        directory = self._directory(plan.namespace, plan.name)
        directory.mkdir(parents=True, exist_ok=True)
        plan_file = directory / "plan.json"
        written = plan_file.with_suffix(".tmp")
        written.write_text(plan.model_dump_json())
        written.replace(plan_file)  # a starting worker never reads half a plan
        digest = plan.digest()
        for replica in range(plan.replicas):
            self._keep(directory / f"worker-{replica}", plan, replica, digest)
        for extra in directory.glob("worker-*"):
            if int(extra.name.removeprefix("worker-")) >= plan.replicas:
                _stop_worker(extra)
                shutil.rmtree(extra, ignore_errors=True)
        return sum(_consuming(directory / f"worker-{r}") for r in range(plan.replicas))

    def _keep(self, worker: Path, plan: WorkerPlan, replica: int, digest: str) -> None:
        """Replica `replica` running on `digest`: started, or replaced if on another plan."""
        worker.mkdir(exist_ok=True)
        digest_file = worker / "digest"
        if _running(worker) and digest_file.is_file() and digest_file.read_text() == digest:
            return
        _stop_worker(worker)
        command = [sys.executable, "-m", WORKER_MODULE]
        command += ["--plan", str(worker.parent / "plan.json")]
        command += ["--consumer", consumer_name(plan.name, replica)]
        command += ["--parent", str(os.getpid())]
        command += ["--metrics-file", str(worker / "metrics")]  # where its /metrics answers
        command += ["--ready-file", str(worker / "ready")]  # its pid, once it consumes
        pid = spawn(command, worker / "worker.log")
        (worker / "pid").write_text(str(pid))
        digest_file.write_text(digest)

    def _remove(self, namespace: str, name: str) -> int:
        directory = self._directory(namespace, name)
        workers = list(directory.glob("worker-*"))
        for worker in workers:
            _stop_worker(worker)
        shutil.rmtree(directory, ignore_errors=True)
        return len(workers)


def _pid(worker: Path) -> int | None:
    pid_file = worker / "pid"
    return int(pid_file.read_text()) if pid_file.is_file() else None


def _running(worker: Path) -> bool:
    pid = _pid(worker)
    return pid is not None and alive(pid)


def _consuming(worker: Path) -> bool:
    """Running, with its model loaded and its place in the group taken (it wrote its pid)."""
    ready = worker / "ready"
    return _running(worker) and ready.is_file() and ready.read_text() == str(_pid(worker))


def _stop_worker(worker: Path) -> None:
    pid = _pid(worker)
    if pid is not None:
        stop(pid)
