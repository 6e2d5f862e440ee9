"""One training run with its tasks as processes (`kfp-local`) and as containers (`kfp-docker`).

Run on demand, on the local platform and a Docker engine holding the training image
(`make image`):

    eval "$(.venv/bin/paved local env)"
    .venv/bin/python benchmarks/bench_training_runners.py [--rounds N]

Each round trains the churn example once through each runner (`KfpLocalRunner`, as the operator
starts a run: a detached process that outlives it), in alternating order so machine noise hits
both alike, with a fresh run key each time; the time is from `start` to the run's result.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

# The synthetic churn data and the request the tests train on (`tests/support`).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.churn_data import write_churn_data
from tests.support.training import NAMESPACE, training_request

from paved.adapters.pipelines.kfp_docker import DockerTasks
from paved.adapters.pipelines.kfp_local import KfpLocalRunner
from paved.ports.pipelines import TERMINAL, RunState

POLL_SECONDS = 0.5


async def _train(runner: KfpLocalRunner, runs: Path, data_root: Path) -> float:
    """Seconds from `start` to the run's result; fails on a failed run, with its log's end."""
    key = f"bench-{uuid.uuid4().hex[:12]}"
    request = training_request(data_root, key).model_dump_json()
    started = time.monotonic()
    run = await runner.start(key, "tabular-classifier", request)
    while run.state not in TERMINAL:
        await asyncio.sleep(POLL_SECONDS)
        run = await runner.get(run.id)
    if run.state is not RunState.SUCCEEDED:
        log = (runs / run.id / "run.log").read_text(errors="replace")
        raise SystemExit(f"the run failed: {run.error}\n{log[-3000:]}")
    return time.monotonic() - started


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1)
    rounds = parser.parse_args().rounds
    tracking_uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not tracking_uri:
        raise SystemExit('MLFLOW_TRACKING_URI is not set: eval "$(paved local env)" first')
    with tempfile.TemporaryDirectory(prefix="bench-training-") as scratch:
        data_root = Path(scratch) / "data"
        write_churn_data(data_root / NAMESPACE)
        docker = DockerTasks.for_training(str(data_root), tracking_uri)
        runs = {"kfp-local (processes)": Path(scratch) / "local"}
        runs["kfp-docker (containers)"] = Path(scratch) / "docker"
        runners = {
            "kfp-local (processes)": KfpLocalRunner(runs["kfp-local (processes)"]),
            "kfp-docker (containers)": KfpLocalRunner(
                runs["kfp-docker (containers)"], docker=docker
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in runners}
        for round_ in range(rounds):
            order = list(runners) if round_ % 2 == 0 else list(reversed(runners))
            for name in order:
                times[name].append(await _train(runners[name], runs[name], data_root))
                print(f"round {round_ + 1}: {name}: {times[name][-1]:.1f} s", flush=True)
    for name, seconds in times.items():
        print(f"{name:<24} median {statistics.median(seconds):6.1f} s over {len(seconds)}")


if __name__ == "__main__":
    asyncio.run(main())
