"""A batch prediction run against a hand-written floor on the same data, in the same run.

Run on demand: `.venv/bin/python benchmarks/bench_batch_prediction.py [--scale 0.1] [--repeats 1]`.
Writes 1,000,000 x scale entities x 100 float features (two event times each) as Parquet,
trains the demo's model (the training pipeline's `train`: a gradient-boosted classifier, the
demo v1's parameters) on a sample, starts a throwaway redis-server, then times, each in a
process of its own (so each reports its own peak memory), taking turns:

- paved: `services.batch_scoring.score_run` as the operator runs it (entities with a locked
  DuckDB, features point-in-time as of the run through `DuckDBEngine`, `predict_proba`, the
  online store's writes, the run's Parquet partition);
- floor: one DuckDB query for every entity's latest row as of the run, `predict_proba` on each
  batch, and pipelined Redis SETs of each entity's score (no Parquet copy, no point-in-time
  join beyond "latest row as of").

The bar (issue #18): paved's throughput >= 0.7 x the floor's.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ENTITIES = 1_000_000
FEATURES = 100
BATCH_ROWS = 100_000
BAR = 0.7
START = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
AS_OF = START + dt.timedelta(days=2)
DEMO_PARAMETERS = {"max_depth": 3, "learning_rate": 0.1, "n_estimators": 100}  # demo v1's


def write_data(directory: Path, entities: int, seed: int = 7) -> None:
    """Two rows per entity (a day apart, both before the as-of), in four files."""
    rng = np.random.default_rng(seed)
    source = directory / "preds" / "activity"
    source.mkdir(parents=True)
    for day in range(2):
        columns: dict[str, pa.Array] = {
            "entity_id": pa.array(np.arange(entities, dtype=np.int64)),
            "event_timestamp": pa.array(
                [START + dt.timedelta(days=day)] * entities, pa.timestamp("us", tz="UTC")
            ),
        }
        values = rng.random((FEATURES, entities))
        for i in range(FEATURES):
            columns[f"f{i:03d}"] = pa.array(values[i])
        table = pa.table(columns)
        half = entities // 2
        pq.write_table(table.slice(0, half), source / f"day{day}-a.parquet")
        pq.write_table(table.slice(half), source / f"day{day}-b.parquet")


def _view(root: Path) -> Any:
    from paved.api.feature_view import FeatureViewSpec
    from paved.core.feature_views import view_definition

    spec = FeatureViewSpec.model_validate(
        {
            "entity": {"name": "entity", "joinKeys": ["entity_id"]},
            "source": {"path": "activity/*.parquet", "timestampField": "event_timestamp"},
            "features": [{"name": f"f{i:03d}", "dtype": "float64"} for i in range(FEATURES)],
        }
    )
    return view_definition("activity", spec, str(root), namespace="preds")


def train_model(root: Path, path: Path) -> None:
    """The demo's model on 50,000 rows, labelled by a rule of five features; pickled."""
    import pickle

    from paved_pipelines.steps import LABEL, train

    view = _view(root)
    sample = pq.read_table(next((root / "preds" / "activity").glob("day1-a.parquet"))).slice(
        0, 50_000
    )
    rule = sum(sample[f"f{i:03d}"].to_numpy() for i in range(5)) > 2.5
    labelled = sample.append_column(LABEL, pa.array(rule.astype(np.int64)))
    model = train(labelled, {f.name: f for f in view.features}, DEMO_PARAMETERS, 42)
    path.write_bytes(pickle.dumps(model))


def run_paved(root: Path, model_path: Path, redis_url: str) -> int:
    import pickle

    from paved.adapters.models.mlflow import SklearnScorer
    from paved.adapters.offline.duckdb import DuckDBEngine
    from paved.adapters.offline.prediction_files import ParquetPredictionFiles
    from paved.adapters.online.redis import RedisOnlineStore
    from paved.api.batch_prediction import BatchPredictionSpec, BatchPredictionStatus
    from paved.core.batch_prediction_steps import Score, Seen, Subject, decide
    from paved.core.batch_predictions import ModelInput, ScoringModel
    from paved.core.references import acceptance
    from paved.services.batch_scoring import score_run

    view = _view(root)
    scorer = SklearnScorer(pickle.loads(model_path.read_bytes()))
    model = ScoringModel(
        "preds.churn", "1", "s3://unused", "churn-v1", (ModelInput(view, view.feature_names),)
    )
    spec = BatchPredictionSpec.model_validate(
        {
            "model": {"name": "churn"},
            "entities": {"featureView": "activity"},
            "trigger": {"watermark": True},
            "batchRows": BATCH_ROWS,
        }
    )
    seen = Seen(acceptance([], "preds"), view, AS_OF, model)
    subject = Subject("preds", f"bench-{time.time_ns()}", str(root))
    step = decide(subject, spec, BatchPredictionStatus(), seen=seen, now=AS_OF)
    assert isinstance(step, Score)
    online = RedisOnlineStore.from_url(redis_url)
    files = ParquetPredictionFiles()
    report = score_run(step.plan, model=scorer, offline=DuckDBEngine(), online=online, files=files)
    return report.rows


def run_floor(root: Path, model_path: Path, redis_url: str) -> int:
    import pickle

    import duckdb
    import redis

    model = pickle.loads(model_path.read_bytes())
    features = [f"f{i:03d}" for i in range(FEATURES)]
    client = redis.Redis.from_url(redis_url)
    files = sorted(str(p) for p in (root / "preds" / "activity").glob("*.parquet"))
    query = (
        f"SELECT entity_id, {', '.join(f'arg_max({f}, event_timestamp) AS {f}' for f in features)}"
        " FROM read_parquet($files) WHERE event_timestamp <= $as_of GROUP BY entity_id"
    )
    scored = 0
    stamp = int(AS_OF.timestamp() * 1_000_000)
    reader = duckdb.sql(query, params={"files": files, "as_of": AS_OF}).to_arrow_reader(BATCH_ROWS)
    for batch in reader:
        frame = batch.select(features).to_pandas()
        scores = model.predict_proba(frame)[:, 1]
        keys = batch.column(0).to_numpy()
        pipe = client.pipeline(transaction=False)
        for start in range(0, len(keys), 10_000):
            chunk = zip(keys[start : start + 10_000], scores[start : start + 10_000], strict=True)
            for key, score in chunk:
                pipe.set(f"floor:{key}", struct.pack("<qd", stamp, score))
            pipe.execute()
        scored += len(keys)
    return scored


def _child(kind: str, root: str, model_path: str, redis_url: str) -> None:
    runner = run_paved if kind == "paved" else run_floor
    started = time.perf_counter()
    rows = runner(Path(root), Path(model_path), redis_url)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"kind": kind, "rows": rows, "seconds": seconds, "peak_mb": peak_mb}))


def measure(kind: str, root: Path, model_path: Path, redis_url: str) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", kind, str(root), str(model_path), redis_url]
    done = subprocess.run(argv, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--child", nargs=4, metavar=("KIND", "ROOT", "MODEL", "REDIS"))
    arguments = parser.parse_args()
    if arguments.child:
        _child(*arguments.child)
        return
    from bench_online import redis_server  # the throwaway redis-server of the online benchmark

    entities = max(1000, int(ENTITIES * arguments.scale))
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as scratch, redis_server() as client:
        root = Path(scratch)
        started = time.perf_counter()
        write_data(root, entities)
        model_path = root / "model.pickle"
        train_model(root, model_path)
        print(
            f"{entities:,} entities x {FEATURES} features written, model trained "
            f"in {time.perf_counter() - started:.0f} s"
        )
        kwargs = client.connection_pool.connection_kwargs
        redis_url = f"redis://{kwargs['host']}:{kwargs['port']}/0"
        results: dict[str, list[dict[str, Any]]] = {"floor": [], "paved": []}
        for repeat in range(arguments.repeats):
            order = ("floor", "paved") if repeat % 2 == 0 else ("paved", "floor")
            for kind in order:
                result = measure(kind, root, model_path, redis_url)
                results[kind].append(result)
                print(
                    f"  {kind:5}: {result['rows']:,} rows in {result['seconds']:.1f} s "
                    f"({result['rows'] / result['seconds']:,.0f} rows/s), "
                    f"peak {result['peak_mb']:,.0f} MB"
                )
        best = {k: min(r["seconds"] for r in v) for k, v in results.items()}
        ratio = best["floor"] / best["paved"]
        verdict = "meets" if ratio >= BAR else "misses"
        print(
            f"paved / floor throughput (best of {arguments.repeats}): {ratio:.2f}x "
            f"({verdict} the bar of {BAR}x)"
        )


if __name__ == "__main__":
    main()
