"""Why interleaving: queries needed to tell two rankers apart, interleaved vs an A/B test on clicks.

Run on demand: `.venv/bin/python benchmarks/bench_interleaving.py [--quick] [--seed N]`.
No services: a simulation on one synthetic click model.

The world. Each query has 10 candidate documents with graded relevance 0-4 (drawn 50/25/15/7/3
percent). A ranker scores a document as its grade plus Gaussian noise and ranks by score: the
baseline with noise 1.0, each candidate with less (a better ranker), so the quality difference
is known and shown as NDCG@10. Users follow the cascade click model's navigational variant
(Hofmann, Whiteson and de Rijke 2013): they read the list top down, click a document of grade g
with probability (0.05, 0.3, 0.5, 0.7, 0.95)[g] and, after a click, stop with probability
(0.2, 0.3, 0.5, 0.7, 0.9)[g].

The two experiments, at the same alpha (0.05) and power (0.8):
- A/B on clicks: half the queries see the baseline's ranking, half the candidate's; a query's
  success is a click on the first result (CTR@1 per arm). Queries needed: twice the per-arm size
  of `paved.core.statistics.sample_size_per_arm` for the measured CTRs. The query CTR (a click
  anywhere) is shown too, and is no metric at all here: a reader who never clicks has read all
  ten documents, whatever their order, so P(no click) = prod(1 - click[g]) is the same for
  every ranking of a query's documents.
- Interleaving: every query sees the team-draft merge (`paved.core.interleaving.team_draft`,
  the code the data plane runs) and is a win, loss or tie by `attribute`. Queries needed:
  `required_queries` at the measured win rate, divided by the share of decided queries (ties
  cost queries too).

Both are first measured on `--queries` simulated queries per candidate (the fixed-horizon sizes
and their ratio). Then each sequential test, as a Rollout step runs it, is run `--runs` times on
draws from those measured per-query rates, read at checkpoints 5 % apart, up to a cap: the
median queries to a verdict, and how often the right verdict came before the cap.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import numpy as np

from paved.core import interleaving as il
from paved.core.statistics import AbOutcome, Design, Tally, ab_test, sample_size_per_arm

DOCUMENTS: Final = 10
GRADE_SHARES: Final = (0.50, 0.25, 0.15, 0.07, 0.03)
CLICK: Final = np.array([0.05, 0.3, 0.5, 0.7, 0.95])
STOP: Final = np.array([0.2, 0.3, 0.5, 0.7, 0.9])
BASELINE_NOISE: Final = 1.0
CANDIDATE_NOISES: Final = (0.9, 0.8, 0.6, 0.3)
ALPHA: Final = 0.05
POWER: Final = 0.8
CAP: Final = 5_000_000  # queries per sequential run at most
NAMES: Final = [f"d{i}" for i in range(DOCUMENTS)]


@dataclass(frozen=True)
class Measured:
    noise: float
    ndcg_baseline: float
    ndcg_candidate: float
    ctr_baseline: float  # queries with a click on any result
    ctr_candidate: float
    top_baseline: float  # queries with a click on the first result (CTR@1)
    top_candidate: float
    wins: float  # shares of all interleaved queries
    losses: float
    ties: float

    @property
    def win_rate(self) -> float:
        return self.wins / (self.wins + self.losses)

    def ab_queries(self) -> int:
        effect = self.top_candidate - self.top_baseline
        return 2 * sample_size_per_arm(self.top_baseline, effect, alpha=ALPHA, power=POWER)

    def interleaving_queries(self) -> int:
        preference = min(max(self.win_rate - 0.5, 0.005), 0.45)
        decided = il.required_queries(il.PreferenceDesign(preference, ALPHA, POWER))
        return round(decided / (self.wins + self.losses))


def _ndcg(grades: np.ndarray) -> np.ndarray:
    """NDCG@10 of each row of grades in shown order."""
    discounts = 1 / np.log2(np.arange(2, DOCUMENTS + 2))
    gains = (2.0**grades - 1) @ discounts
    ideal = (2.0 ** -np.sort(-grades, axis=1) - 1) @ discounts
    ndcg: np.ndarray = np.where(ideal > 0, gains / np.where(ideal > 0, ideal, 1), 0.0)
    return ndcg


def _clicks(grades: np.ndarray, draw: np.random.Generator) -> np.ndarray:
    """The cascade model's clicks on lists of grades (rows: queries; columns: positions)."""
    clicked = draw.random(grades.shape) < CLICK[grades]
    stops = clicked & (draw.random(grades.shape) < STOP[grades])
    # A position is read when no earlier click stopped the reader.
    read = np.cumsum(stops, axis=1) - stops == 0
    shown: np.ndarray = clicked & read
    return shown


def _ranking(grades: np.ndarray, noise: float, draw: np.random.Generator) -> np.ndarray:
    scores = grades + draw.normal(0.0, noise, grades.shape)
    return np.argsort(-scores, axis=1)


def measure(noise: float, queries: int, draw: np.random.Generator) -> Measured:
    grades = draw.choice(len(GRADE_SHARES), size=(queries, DOCUMENTS), p=GRADE_SHARES)
    rows = np.arange(queries)[:, None]
    base = _ranking(grades, BASELINE_NOISE, draw)
    cand = _ranking(grades, noise, draw)
    # A/B: each arm on queries of its own (fresh clicks for each).
    clicks_b, clicks_c = _clicks(grades[rows, base], draw), _clicks(grades[rows, cand], draw)
    # Interleaving: the merged list, its clicks, attributed by the core.
    counts = dict.fromkeys(il.Preference, 0)
    merged_grades = np.empty_like(grades)
    teams: list[tuple[il.Team, ...]] = []
    for q in range(queries):
        merged = il.team_draft(
            [NAMES[i] for i in base[q]], [NAMES[i] for i in cand[q]], seed=f"query-{q}"
        )
        merged_grades[q] = [grades[q, int(item[1:])] for item in merged.items]
        teams.append(merged.teams)
    clicks = _clicks(merged_grades, draw)
    for q in range(queries):
        counts[il.attribute(teams[q], np.flatnonzero(clicks[q]).tolist())] += 1
    return Measured(
        noise,
        float(_ndcg(grades[rows, base]).mean()),
        float(_ndcg(grades[rows, cand]).mean()),
        float(clicks_b.any(axis=1).mean()),
        float(clicks_c.any(axis=1).mean()),
        float(clicks_b[:, 0].mean()),
        float(clicks_c[:, 0].mean()),
        counts[il.Preference.WIN] / queries,
        counts[il.Preference.LOSS] / queries,
        counts[il.Preference.TIE] / queries,
    )


def _checkpoints() -> list[int]:
    points, n = [], 100
    while n < CAP:
        points.append(n)
        n = max(n + 1, int(n * 1.05))
    return [*points, CAP]


def _sequential(step: Callable[[int], AbOutcome]) -> int | None:
    """Queries at the first checkpoint with a win (the candidate is better), None if none by the
    cap; a wrong verdict (loss or noDifference) ends the run as a miss. `step(k)` adds k more
    queries to the sample and judges it whole: the sample grows, never redrawn, so the test
    is peeked at as a Rollout step peeks."""
    seen = 0
    for n in _checkpoints():
        outcome = step(n - seen)
        seen = n
        if outcome is AbOutcome.WIN:
            return n
        if outcome is not AbOutcome.UNDECIDED:
            return None
    return None


def run_ab(found: Measured, draw: np.random.Generator) -> int | None:
    """One sequential A/B test on CTR@1 (the abTest step's mSPRT), MDE the measured difference."""
    rates = (found.top_baseline, found.top_candidate)
    design = Design(max(rates[1] - rates[0], 0.001), ALPHA, POWER)
    counts = np.zeros(4, dtype=np.int64)  # baseline clicks, queries; candidate clicks, queries

    def step(more: int) -> AbOutcome:
        half = more // 2
        counts[:] += [draw.binomial(half, rates[0]), half, draw.binomial(half, rates[1]), half]
        baseline, candidate = Tally(*map(int, counts[:2])), Tally(*map(int, counts[2:]))
        return ab_test(baseline, candidate, design).outcome

    return _sequential(step)


def run_interleaving(found: Measured, draw: np.random.Generator) -> int | None:
    """One sequential interleaving test (the interleave step's), MDP the true preference."""
    design = il.PreferenceDesign(min(max(found.win_rate - 0.5, 0.005), 0.45), ALPHA, POWER)
    counts = np.zeros(3, dtype=np.int64)

    def step(more: int) -> AbOutcome:
        counts[:] += draw.multinomial(more, [found.wins, found.losses, found.ties])
        return il.interleaving_test(il.Record(*map(int, counts)), design).outcome

    return _sequential(step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer queries and runs")
    parser.add_argument("--seed", type=int, default=20)
    arguments = parser.parse_args()
    queries, runs = (20_000, 20) if arguments.quick else (100_000, 100)
    draw = np.random.default_rng(arguments.seed)
    started = time.perf_counter()
    print(f"{queries} queries measured per candidate; {runs} sequential runs each")
    print(
        "| candidate noise | NDCG@10 baseline → candidate | CTR@1 | CTR (any click) |"
        " interleaved wins/losses/ties | interleaving | A/B on CTR@1 | ratio |"
        " sequential: interleaving (found) | A/B on CTR@1 (found) | ratio |"
    )
    print("| ---: | --- | --- | --- | --- |" + " ---: |" * 6)
    for noise in CANDIDATE_NOISES:
        print(_row(measure(noise, queries, draw), runs, draw))
    print(f"({time.perf_counter() - started:.0f} s)")


def _row(found: Measured, runs: int, draw: np.random.Generator) -> str:
    interleaving = found.interleaving_queries()
    top = found.ab_queries()
    in_runs = [run_interleaving(found, draw) for _ in range(runs)]
    ab_runs = [run_ab(found, draw) for _ in range(runs)]
    in_median, ab_median = _median(in_runs), _median(ab_runs)
    return (
        f"| {found.noise} | {found.ndcg_baseline:.3f} → {found.ndcg_candidate:.3f} "
        f"| {found.top_baseline:.4f} → {found.top_candidate:.4f} "
        f"| {found.ctr_baseline:.4f} → {found.ctr_candidate:.4f} "
        f"| {found.wins:.3f}/{found.losses:.3f}/{found.ties:.3f} "
        f"| {interleaving:,} | {top:,} | {_ratio(top, interleaving)} "
        f"| {_shown(in_median)} ({_found(in_runs)}) | {_shown(ab_median)} ({_found(ab_runs)}) "
        f"| {_ratio(ab_median, in_median)} |"
    )


def _median(runs: list[int | None]) -> float | None:
    """The median queries to a win, a miss counted as more than any (None: half or more missed)."""
    ordered = sorted(float("inf") if n is None else float(n) for n in runs)
    middle = statistics.median_low(ordered)
    return None if middle == float("inf") else middle


def _found(runs: list[int | None]) -> str:
    return f"{sum(r is not None for r in runs)}/{len(runs)}"


def _shown(median: float | None) -> str:
    return f"> {CAP:,}" if median is None else f"{median:,.0f}"


def _ratio(ab: float | None, interleaving: float | None) -> str:
    if ab is None or interleaving is None:
        return "—"
    return f"{ab / interleaving:.0f}" if ab >= 10 * interleaving else f"{ab / interleaving:.1f}"


if __name__ == "__main__":
    main()
