"""A small run of the interleaving benchmark's simulation: its click model and both tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np

BENCHMARK = Path(__file__).parents[2] / "benchmarks" / "bench_interleaving.py"


def _benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_interleaving", BENCHMARK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def test_a_much_better_ranker_wins_interleaving_in_fewer_queries_than_an_ab_test() -> None:
    bench = _benchmark()
    draw = np.random.default_rng(1)
    found = bench.measure(0.3, 3_000, draw)
    assert found.ndcg_candidate > found.ndcg_baseline
    assert found.wins > found.losses
    assert found.top_candidate > found.top_baseline
    assert found.interleaving_queries() < found.ab_queries()
    assert bench.run_interleaving(found, draw) is not None
