"""How a new model version's predictions compare with the served ones."""

from __future__ import annotations

import numpy as np
import pytest

from paved.api.batch_prediction import ShadowLimits
from paved.core.prediction_shadow import Comparison, breaches, compare

SCORES = np.random.default_rng(5).uniform(0, 1, 2000)


def test_the_same_scores_do_not_differ() -> None:
    same = compare(SCORES, SCORES, threshold=0.5)
    assert same.compared == 2000
    assert same.score_psi == pytest.approx(0, abs=1e-9)
    assert same.rank_agreement == pytest.approx(1)
    assert same.decision_flips == 0
    assert breaches(same, ShadowLimits()) == []


def test_reversed_scores_rank_everything_the_other_way_and_flip_decisions() -> None:
    reversed_ = compare(SCORES, 1 - SCORES, threshold=0.5)
    assert reversed_.rank_agreement == pytest.approx(-1)
    assert reversed_.decision_flips == pytest.approx(1.0)
    assert breaches(reversed_, ShadowLimits()) == [
        "rank agreement -1.0000 < 0.8",
        "decisions flipped 100.00% > 10.00%",
    ]


def test_a_shifted_distribution_is_a_psi_breach() -> None:
    shifted = compare(SCORES, SCORES**4, threshold=0.99)
    assert shifted.score_psi is not None
    assert shifted.score_psi > 0.25
    assert shifted.rank_agreement == pytest.approx(1)  # the same order, other values


def test_too_few_entities_are_never_enough_to_replace_anything() -> None:
    few = compare(SCORES[:5], SCORES[:5], threshold=0.5)
    assert few == Comparison(5, None, None, None)
    assert breaches(few, ShadowLimits()) == [
        "only 5 entities were scored by both; too few to judge"
    ]


def test_entities_one_side_did_not_score_are_left_out() -> None:
    with_gaps = SCORES.copy()
    with_gaps[:100] = np.nan
    assert compare(SCORES, with_gaps, threshold=0.5).compared == 1900
