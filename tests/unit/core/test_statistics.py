from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paved.core.statistics import (
    MAX_SAMPLE_SIZE,
    AbOutcome,
    Design,
    Tally,
    ab_test,
    sample_size_per_arm,
    trial_count,
)


def test_sample_size_matches_the_textbook_example() -> None:
    # Error rate 1.0% → 1.5%, alpha 0.05, power 0.8: about 7,750 per arm.
    assert 7_600 <= sample_size_per_arm(0.01, 0.005, alpha=0.05, power=0.8) <= 7_900


def test_a_clear_win_is_declared_early_and_a_loss_likewise() -> None:
    win = ab_test(
        Tally(1_000, 10_000),
        Tally(1_400, 10_000),
        Design(0.01),
    )
    assert win.outcome is AbOutcome.WIN
    assert win.low > 0
    loss = ab_test(
        Tally(1_400, 10_000),
        Tally(1_000, 10_000),
        Design(0.01),
    )
    assert loss.outcome is AbOutcome.LOSS


def test_equal_arms_are_no_difference_once_enough_samples_are_in() -> None:
    early = ab_test(
        Tally(100, 1_000),
        Tally(101, 1_000),
        Design(0.02),
    )
    assert early.outcome is AbOutcome.UNDECIDED
    late = ab_test(
        Tally(10_000, 100_000),
        Tally(10_010, 100_000),
        Design(0.02),
    )
    assert late.outcome is AbOutcome.NO_DIFFERENCE
    assert "per arm for MDE 0.02" in late.message


def test_no_data_is_undecided_never_a_verdict() -> None:
    assert (
        ab_test(
            Tally(0, 0),
            Tally(0, 0),
            Design(0.01),
        ).outcome
        is AbOutcome.UNDECIDED
    )


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_peeking_under_no_difference_rarely_declares_a_winner(seed: int) -> None:
    """Look after every batch of an A/A test: the always-valid test stays below alpha."""
    rng = np.random.default_rng(seed)
    false_alarms = 0
    for _ in range(20):
        successes_b = successes_c = trials = 0
        for _ in range(30):
            trials += 200
            successes_b += int(rng.binomial(200, 0.1))
            successes_c += int(rng.binomial(200, 0.1))
            result = ab_test(
                Tally(successes_b, trials),
                Tally(successes_c, trials),
                Design(0.02),
            )
            if result.outcome in (AbOutcome.WIN, AbOutcome.LOSS):
                false_alarms += 1
                break
    assert false_alarms <= 4  # 20 experiments at alpha 0.05 with 30 peeks each: expect ~1


@pytest.mark.parametrize("effect", [0.0, 0.02])
def test_the_interval_covers_the_estimate(effect: float) -> None:
    result = ab_test(
        Tally(1_000, 10_000),
        Tally(int(1_000 + effect * 10_000), 10_000),
        Design(0.01),
    )
    assert result.low <= result.effect <= result.high


def test_an_unreachable_sample_size_ends_at_the_horizon_with_a_stated_outcome() -> None:
    """An MDE of 0.001 at a 10% rate needs ~1.4 million trials per arm; at the horizon the
    test ends with what it has: no effect shown, and the message says how far short it was."""
    before = ab_test(
        Tally(100, 1_000),
        Tally(104, 1_000),
        Design(0.001),
    )
    assert before.outcome is AbOutcome.UNDECIDED
    ended = ab_test(
        Tally(100, 1_000),
        Tally(104, 1_000),
        Design(0.001),
        horizon_reached=True,
    )
    assert ended.outcome is AbOutcome.NO_DIFFERENCE
    assert ended.required_per_arm > 1_000_000
    assert ended.message.startswith("noDifference at the horizon, short of the sample size")
    assert f"{ended.required_per_arm} per arm" in ended.message


def test_an_arm_without_trials_ends_at_the_horizon_too() -> None:
    """Traffic that never reached one arm used to hold the split for ever."""
    assert (
        ab_test(
            Tally(0, 0),
            Tally(3, 40),
            Design(0.01),
        ).outcome
        is AbOutcome.UNDECIDED
    )
    ended = ab_test(
        Tally(0, 0),
        Tally(3, 40),
        Design(0.01),
        horizon_reached=True,
    )
    assert ended.outcome is AbOutcome.NO_DIFFERENCE
    assert "baseline 0, candidate 40 trials" in ended.message


@pytest.mark.parametrize("effect", [1e-9, 1e-300])
def test_a_vanishing_effect_needs_the_bounded_maximum_never_an_overflow(effect: float) -> None:
    assert sample_size_per_arm(0.5, effect, alpha=0.05, power=0.8) == MAX_SAMPLE_SIZE


@pytest.mark.parametrize(
    ("reading", "count"),
    [(None, 0), (float("nan"), 0), (float("inf"), 0), (float("-inf"), 0), (-3.0, 0), (12.4, 12)],
)
def test_a_counter_that_is_not_a_count_counts_as_no_trials(
    reading: float | None, count: int
) -> None:
    assert trial_count(reading) == count
