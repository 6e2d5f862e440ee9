"""Interleaving for rankers: team-draft merging, click attribution, and an always-valid test.

Pure. A request's candidate items are ranked by both arms; `team_draft` merges the two rankings
into the one list the user sees, each item credited to the team (arm) that put it there.
`attribute` turns the clicked positions of that list into the query's preference: the team
with more clicks wins the query, equal clicks (none included) tie. Over many queries the
candidate's win rate among the decided (untied) queries is 0.5 when neither ranker is
preferred; `interleaving_test` tells when it is not, and may be read after every query.

The test is a mixture sequential probability ratio test on wins against losses: under "no
preference" wins ~ Binomial(n, 1/2), and the ratio of the beta-binomial marginal likelihood
(a Beta(a, a) prior on the win rate, centred on 1/2, its spread the minimum detectable
preference) to that null is a nonnegative martingale. By Ville's inequality it ever reaches
1/alpha with probability at most alpha, however often it is read: exact, not asymptotic (the
A/B test's normal approximation needs large samples; a query at a time is small). Its always-
valid interval is the set of win rates the same mixture does not reject. Radlinski, Kurup and
Joachims 2008 (team draft); Johari et al. 2017 (mSPRT); Howard et al. 2021 (Ville, mixtures).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist
from typing import Final

from paved.api.rollout import MAX_DETECTABLE_PREFERENCE, MIN_DETECTABLE_PREFERENCE
from paved.core.statistics import MAX_SAMPLE_SIZE, AbOutcome

_BISECTIONS: Final = 60  # the interval's bounds to ~1e-18: past a float's precision


class Team(StrEnum):
    """Which arm put an item into the interleaved list."""

    BASELINE = "baseline"
    CANDIDATE = "candidate"


class Preference(StrEnum):
    """One query's result, from the candidate's side."""

    WIN = "win"  # more clicks on the candidate's items
    LOSS = "loss"
    TIE = "tie"  # as many clicks on each (no clicks at all is a tie)


@dataclass(frozen=True)
class Interleaved:
    """The list shown, and the team each of its items is credited to (same order)."""

    items: tuple[str, ...]
    teams: tuple[Team, ...]


def _coin(seed: str, draw: int) -> Team:
    """The team that picks first in round `draw` of the request `seed`: the same on replay."""
    digest = hashlib.sha256(f"{seed}:{draw}".encode()).digest()
    return Team.CANDIDATE if digest[0] & 1 else Team.BASELINE


def team_draft(
    baseline: Sequence[str], candidate: Sequence[str], *, seed: str, length: int | None = None
) -> Interleaved:
    """Team-draft interleaving of two rankings of the same candidates (best first).

    The team with fewer picks picks next; on equal picks a coin (from `seed`, the request id)
    says which. A team picks its highest-ranked item not shown yet. When one team's ranking
    has nothing left the other picks, so every item of either ranking is shown once (up to
    `length`).
    """
    rankings = {Team.BASELINE: list(baseline), Team.CANDIDATE: list(candidate)}
    wanted = len(set(baseline) | set(candidate)) if length is None else length
    shown: list[str] = []
    teams: list[Team] = []
    seen: set[str] = set()
    picks = {Team.BASELINE: 0, Team.CANDIDATE: 0}
    rounds = 0
    while len(shown) < wanted:
        left = {team: [i for i in ranking if i not in seen] for team, ranking in rankings.items()}
        able = [team for team, items in left.items() if items]
        if not able:
            break
        if len(able) == 1:
            team = able[0]
        elif picks[Team.BASELINE] != picks[Team.CANDIDATE]:
            team = min(picks, key=lambda t: picks[t])
        else:
            team = _coin(seed, rounds)
            rounds += 1
        item = left[team][0]
        shown.append(item)
        teams.append(team)
        seen.add(item)
        picks[team] += 1
    return Interleaved(tuple(shown), tuple(teams))


def attribute(teams: Sequence[Team], clicked: Iterable[int]) -> Preference:
    """The query's preference from the clicked positions (0-based, in the shown list's order):
    each click counts for the team of the item clicked; a position twice counts once."""
    positions = set(clicked)
    outside = sorted(p for p in positions if not 0 <= p < len(teams))
    if outside:
        raise ValueError(f"clicked positions {outside} are outside the {len(teams)} items shown")
    candidate = sum(1 for p in positions if teams[p] is Team.CANDIDATE)
    baseline = len(positions) - candidate
    if candidate > baseline:
        return Preference.WIN
    return Preference.LOSS if baseline > candidate else Preference.TIE


@dataclass(frozen=True)
class Record:
    """The per-query record so far: the candidate's wins, losses and ties."""

    wins: int = 0
    losses: int = 0
    ties: int = 0

    def add(self, preference: Preference) -> Record:
        return Record(
            self.wins + (preference is Preference.WIN),
            self.losses + (preference is Preference.LOSS),
            self.ties + (preference is Preference.TIE),
        )

    @property
    def decided(self) -> int:
        return self.wins + self.losses


@dataclass(frozen=True)
class PreferenceDesign:
    """What an interleaving test is built to find: the smallest preference worth finding (the
    candidate's win rate among decided queries minus 1/2), alpha and power."""

    minimum_detectable_preference: float
    alpha: float = 0.05
    power: float = 0.8

    def __post_init__(self) -> None:
        if (
            not MIN_DETECTABLE_PREFERENCE
            <= self.minimum_detectable_preference
            <= (MAX_DETECTABLE_PREFERENCE)
        ):
            raise ValueError(
                f"minimum detectable preference {self.minimum_detectable_preference} is outside "
                f"[{MIN_DETECTABLE_PREFERENCE}, {MAX_DETECTABLE_PREFERENCE}]"
            )

    @property
    def prior(self) -> float:
        """Beta(a, a)'s a: its standard deviation about 1/2 is the minimum detectable
        preference (var = 1 / (4 (2a + 1)))."""
        return (1 / (4 * self.minimum_detectable_preference**2) - 1) / 2


def required_queries(design: PreferenceDesign) -> int:
    """Decided queries a fixed-size two-sided binomial test needs to find the minimum detectable
    preference (ties not counted): the sample size behind a noDifference verdict."""
    normal = NormalDist()
    delta = design.minimum_detectable_preference
    rate = 0.5 + delta
    z_alpha = normal.inv_cdf(1 - design.alpha / 2)
    z_power = normal.inv_cdf(design.power)
    needed = ((z_alpha * 0.5 + z_power * math.sqrt(rate * (1 - rate))) / delta) ** 2
    return min(math.ceil(needed), MAX_SAMPLE_SIZE)


def _log_beta(a: float, b: float) -> float:
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)


def _log_mixture(wins: int, losses: int, prior: float) -> float:
    """log ∫ p^wins (1-p)^losses dBeta(prior, prior)(p)."""
    return _log_beta(wins + prior, losses + prior) - _log_beta(prior, prior)


def _log_likelihood(wins: int, losses: int, rate: float) -> float:
    # 0 · log 0 is 0: no wins say nothing against a win rate of 0.
    return (wins * math.log(rate) if wins else 0.0) + (
        losses * math.log1p(-rate) if losses else 0.0
    )


def p_value(wins: int, losses: int, design: PreferenceDesign) -> float:
    """The always-valid p-value of "no preference" (win rate 1/2): 1 / the mixture ratio."""
    log_ratio = _log_mixture(wins, losses, design.prior) - _log_likelihood(wins, losses, 0.5)
    return 1.0 if log_ratio <= 0 else min(1.0, math.exp(-log_ratio))


def interval(wins: int, losses: int, design: PreferenceDesign) -> tuple[float, float]:
    """The always-valid confidence interval on the win rate: the rates the mixture does not
    reject at alpha. The log-likelihood is concave in the rate, so the set is an interval
    around wins / decided, found by bisection on each side."""
    decided = wins + losses
    if decided == 0:
        return 0.0, 1.0
    floor = _log_mixture(wins, losses, design.prior) - math.log(1 / design.alpha)
    centre = min(max(wins / decided, 1e-15), 1 - 1e-15)

    def inside(rate: float) -> bool:
        return _log_likelihood(wins, losses, rate) > floor

    def bound(outer: float) -> float:
        if inside(outer):
            return outer
        inner = centre
        for _ in range(_BISECTIONS):
            middle = (inner + outer) / 2
            inner, outer = (middle, outer) if inside(middle) else (inner, middle)
        return inner

    return bound(0.0 if wins == 0 else 1e-15), bound(1.0 if losses == 0 else 1 - 1e-15)


@dataclass(frozen=True)
class InterleavingResult:
    """The interleaving test's evidence, shaped as the A/B test's: its outcome drives the same
    policy (win, noDifference, loss; undecided keeps going)."""

    outcome: AbOutcome
    record: Record
    win_rate: float  # among decided queries; 0.5 before any
    low: float  # always-valid interval on the win rate
    high: float
    p_value: float  # always-valid
    required_queries: int  # decided queries behind a noDifference verdict
    message: str


def interleaving_test(
    record: Record, design: PreferenceDesign, *, horizon_reached: bool = False
) -> InterleavingResult:
    """Win, loss or no difference once the evidence says so; undecided until then.

    A win or a loss as soon as the p-value reaches alpha. No difference once the required
    decided queries are in and the interval excludes a preference of the minimum size either
    way, or at the horizon with neither shown.
    """
    wins, losses, delta = record.wins, record.losses, design.minimum_detectable_preference
    required = required_queries(design)
    rate = wins / record.decided if record.decided else 0.5
    p = p_value(wins, losses, design)
    low, high = interval(wins, losses, design)
    if p <= design.alpha:
        outcome = AbOutcome.WIN if rate > 0.5 else AbOutcome.LOSS
    elif horizon_reached or (
        record.decided >= required and 0.5 - delta < low and high < 0.5 + delta
    ):
        outcome = AbOutcome.NO_DIFFERENCE
    else:
        outcome = AbOutcome.UNDECIDED
    short = horizon_reached and outcome is AbOutcome.NO_DIFFERENCE and record.decided < required
    ended = " at the horizon, short of the sample size" if short else ""
    message = (
        f"{outcome.value}{ended}: candidate win rate {rate:.4f} [{low:.4f}, {high:.4f}], "
        f"p {p:.3g} (wins {wins}, losses {losses}, ties {record.ties}; {required} decided "
        f"queries for a preference of {delta})"
    )
    return InterleavingResult(outcome, record, rate, low, high, p, required, message)
