"""Statistics for rollouts: sample sizes from MDE, alpha and power; an always-valid A/B test.

Pure. The A/B test is the mixture sequential probability ratio test (mSPRT, Johari et al.
2017/2022) on the difference of two proportions: its p-value may be read after every batch of
data ("peeking") without inflating the false-positive rate, unlike a repeated z-test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final

# More trials per arm than any rollout sees (and what a status's int64 holds with room):
# a sample size beyond it is reported as this bound, never as an overflow.
MAX_SAMPLE_SIZE: Final = 10**12


def sample_size_per_arm(
    baseline_rate: float, minimum_detectable_effect: float, *, alpha: float, power: float
) -> int:
    """Observations per arm for a two-sided test of two proportions to detect the MDE, at most
    MAX_SAMPLE_SIZE (an effect too small to tell apart from none needs "more than any")."""
    p1 = min(max(baseline_rate, 1e-6), 1 - 1e-6)
    p2 = min(max(p1 + minimum_detectable_effect, 1e-6), 1 - 1e-6)
    # scipy takes seconds to import: only when a Rollout's A/B test is sized, not on `import
    # paved.features` (the ports reach this module through the Rollout's decisions).
    from scipy import stats

    z = float(stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power))
    spread = (p2 - p1) ** 2
    if spread == 0:
        return MAX_SAMPLE_SIZE
    return min(math.ceil(z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / spread), MAX_SAMPLE_SIZE)


def trial_count(reading: float | None) -> int:
    """A counter's increase as a whole count: a missing, NaN, infinite or negative reading
    counts as none (no evidence), never as an error or a number JSON cannot carry."""
    if reading is None or not math.isfinite(reading) or reading < 0:
        return 0
    return min(round(reading), MAX_SAMPLE_SIZE * 1000)


class AbOutcome(StrEnum):
    WIN = "win"
    LOSS = "loss"
    NO_DIFFERENCE = "noDifference"
    UNDECIDED = "undecided"


@dataclass(frozen=True)
class AbResult:
    outcome: AbOutcome
    effect: float  # candidate rate - baseline rate
    low: float  # always-valid confidence sequence bounds on the effect
    high: float
    p_value: float  # always-valid
    samples_baseline: int
    samples_candidate: int
    required_per_arm: int
    message: str


# No evidence: no effect, the widest interval, p 1.
_NOTHING: Final = AbResult(
    AbOutcome.UNDECIDED, 0.0, -1.0, 1.0, 1.0, 0, 0, 0, "no data yet in one of the arms"
)


@dataclass(frozen=True)
class Tally:
    """One arm's counts: successes out of trials."""

    successes: int
    trials: int


@dataclass(frozen=True)
class Design:
    """What an A/B test is built to find: the smallest effect worth finding, the false-positive
    rate (alpha) and the chance to find a real effect of that size (power)."""

    minimum_detectable_effect: float
    alpha: float = 0.05
    power: float = 0.8


def ab_test(
    baseline: Tally, candidate: Tally, design: Design, *, horizon_reached: bool = False
) -> AbResult:
    """Win, loss or no difference, once the evidence says so; undecided until then.

    The mixing prior's scale τ is the MDE (fixed in advance, as validity requires). "No
    difference" is declared when the required sample size is reached (or the horizon passed)
    and the always-valid interval excludes effects of MDE size in both directions.
    """
    minimum_detectable_effect, alpha = design.minimum_detectable_effect, design.alpha
    successes_baseline, successes_candidate = baseline.successes, candidate.successes
    n_b, n_c = baseline.trials, candidate.trials
    rate = successes_baseline / n_b if n_b else 0.5
    required = sample_size_per_arm(rate, minimum_detectable_effect, alpha=alpha, power=design.power)
    if n_b == 0 or n_c == 0:
        if horizon_reached:
            # The horizon ends the test whatever came in: an arm without data showed no effect.
            message = (
                f"noDifference at the horizon, short of the sample size: no effect shown "
                f"(baseline {n_b}, candidate {n_c} trials; {required} per arm for MDE "
                f"{minimum_detectable_effect})"
            )
            return replace(
                _NOTHING,
                outcome=AbOutcome.NO_DIFFERENCE,
                samples_baseline=n_b,
                samples_candidate=n_c,
                required_per_arm=required,
                message=message,
            )
        return replace(
            _NOTHING, samples_baseline=n_b, samples_candidate=n_c, required_per_arm=required
        )
    rate_b, rate_c = successes_baseline / n_b, successes_candidate / n_c
    effect = rate_c - rate_b
    pooled = (successes_baseline + successes_candidate) / (n_b + n_c)
    variance = max(pooled * (1 - pooled) * (1 / n_b + 1 / n_c), 1e-12)
    tau2 = minimum_detectable_effect**2
    likelihood_ratio = math.sqrt(variance / (variance + tau2)) * math.exp(
        min(tau2 * effect**2 / (2 * variance * (variance + tau2)), 700.0)
    )
    p_value = min(1.0, 1.0 / likelihood_ratio)
    spread = variance * (variance + tau2) / tau2
    half_width = math.sqrt(
        spread * (math.log((variance + tau2) / variance) + 2 * math.log(1 / alpha))
    )
    low, high = effect - half_width, effect + half_width
    counts = f"baseline {successes_baseline}/{n_b}, candidate {successes_candidate}/{n_c}"
    estimate = f"effect {effect:+.4f} [{low:+.4f}, {high:+.4f}], p {p_value:.3g}"
    if p_value <= alpha:
        outcome = AbOutcome.WIN if effect > 0 else AbOutcome.LOSS
    elif horizon_reached or (
        min(n_b, n_c) >= required
        and -minimum_detectable_effect < low
        and high < minimum_detectable_effect
    ):
        # Past the horizon the evidence so far is the answer: no effect was shown.
        outcome = AbOutcome.NO_DIFFERENCE
    else:
        outcome = AbOutcome.UNDECIDED
    short = horizon_reached and outcome is AbOutcome.NO_DIFFERENCE and min(n_b, n_c) < required
    ended = " at the horizon, short of the sample size" if short else ""
    message = (
        f"{outcome.value}{ended}: {estimate} ({counts}; {required} per arm for MDE "
        f"{minimum_detectable_effect})"
    )
    return AbResult(outcome, effect, low, high, p_value, n_b, n_c, required, message)
