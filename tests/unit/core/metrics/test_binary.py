"""Binary metrics against hand-computed values and scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from paved.api.tasks import Task
from paved.core.metrics import Scored, binary, measure

LABELS = np.array([0, 0, 1, 1])
SCORES = np.array([0.1, 0.4, 0.35, 0.8])


def test_auc_is_the_chance_a_positive_outscores_a_negative() -> None:
    # Pairs (positive, negative): 0.35>0.1, 0.35<0.4, 0.8>0.1, 0.8>0.4: 3 of 4.
    assert binary.auc(LABELS, SCORES) == 0.75


def test_auc_counts_a_tie_as_half() -> None:
    assert binary.auc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    tied = np.array([0.2, 0.5, 0.5, 0.9, 0.5])
    labels = np.array([0, 0, 1, 1, 1])
    assert binary.auc(labels, tied) == pytest.approx(sk.roc_auc_score(labels, tied))


def test_auc_of_one_class_is_not_a_number_it_pretends() -> None:
    assert binary.auc(np.array([1, 1]), np.array([0.2, 0.9])) is None
    assert "auc" not in measure(Task.BINARY, Scored(np.array([1, 1]), np.array([0.2, 0.9])))


def test_log_loss_brier_and_accuracy_by_hand() -> None:
    expected = -(np.log(0.9) + np.log(0.6) + np.log(0.35) + np.log(0.8)) / 4
    assert binary.log_loss(LABELS, SCORES) == pytest.approx(expected)
    assert binary.brier(LABELS, SCORES) == pytest.approx((0.01 + 0.16 + 0.4225 + 0.04) / 4)
    assert binary.accuracy(LABELS, SCORES) == 0.75  # 0.35 is called negative


def test_ece_is_the_weighted_gap_between_score_and_positive_rate() -> None:
    # Bins [0.1,0.2): {0.1 → 0}: gap 0.1; [0.3,0.4): {0.35 → 1}: 0.65; [0.4,0.5): {0.4 → 0}:
    # 0.4; [0.8,0.9): {0.8 → 1}: 0.2. Each a quarter of the rows.
    assert binary.expected_calibration_error(LABELS, SCORES) == pytest.approx(
        (0.1 + 0.65 + 0.4 + 0.2) / 4
    )
    calibrated = np.array([0.5] * 4)
    assert binary.expected_calibration_error(np.array([0, 1, 0, 1]), calibrated) == 0


def test_every_binary_metric_matches_scikit_learn_on_random_data() -> None:
    rng = np.random.default_rng(7)
    labels = rng.integers(0, 2, 500)
    scores = np.clip(labels * 0.3 + rng.random(500) * 0.7, 0, 1)
    measured = measure(Task.BINARY, Scored(labels, scores))
    assert measured["auc"] == pytest.approx(sk.roc_auc_score(labels, scores))
    assert measured["logLoss"] == pytest.approx(sk.log_loss(labels, scores))
    assert measured["brier"] == pytest.approx(sk.brier_score_loss(labels, scores))
    assert measured["accuracy"] == pytest.approx(sk.accuracy_score(labels, scores >= 0.5))
