"""Multiclass and regression metrics against hand-computed values and scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from paved.api.tasks import Task
from paved.core.metrics import Scored, measure, multiclass, regression

LABELS = np.array([0, 1, 2, 2])
PROBABILITIES = np.array(
    [
        [0.7, 0.2, 0.1],  # → 0, right
        [0.3, 0.4, 0.3],  # → 1, right
        [0.5, 0.1, 0.4],  # → 0, wrong
        [0.1, 0.1, 0.8],  # → 2, right
    ]
)


def test_multiclass_accuracy_and_log_loss_by_hand() -> None:
    assert multiclass.accuracy(LABELS, PROBABILITIES) == 0.75
    expected = -(np.log(0.7) + np.log(0.4) + np.log(0.4) + np.log(0.8)) / 4
    assert multiclass.log_loss(LABELS, PROBABILITIES) == pytest.approx(expected)


def test_macro_f1_weighs_every_class_alike() -> None:
    # Class 0: tp 1, fp 1, fn 0 → 2/3; class 1: 1, 0, 0 → 1; class 2: 1, 0, 1 → 2/3.
    assert multiclass.macro_f1(LABELS, PROBABILITIES) == pytest.approx((2 / 3 + 1 + 2 / 3) / 3)


def test_multiclass_matches_scikit_learn_on_random_data() -> None:
    rng = np.random.default_rng(11)
    labels = rng.integers(0, 4, 400)
    raw = rng.random((400, 4)) + np.eye(4)[labels] * 0.8
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    measured = measure(Task.MULTICLASS, Scored(labels, probabilities))
    predicted = probabilities.argmax(axis=1)
    assert measured["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted))
    assert measured["logLoss"] == pytest.approx(sk.log_loss(labels, probabilities))
    assert measured["macroF1"] == pytest.approx(sk.f1_score(labels, predicted, average="macro"))


def test_regression_errors_by_hand() -> None:
    truth, predicted = np.array([1.0, 2.0, 4.0]), np.array([2.0, 2.0, 1.0])
    assert regression.rmse(truth, predicted) == pytest.approx(np.sqrt((1 + 0 + 9) / 3))
    assert regression.mae(truth, predicted) == pytest.approx(4 / 3)


def test_a_regressions_values_are_not_bounded_to_the_unit_interval() -> None:
    rng = np.random.default_rng(5)
    truth = rng.normal(300, 80, 200)
    predicted = truth + rng.normal(0, 20, 200)
    measured = measure(Task.REGRESSION, Scored(truth, predicted))
    assert measured == pytest.approx(
        {
            "rmse": sk.root_mean_squared_error(truth, predicted),
            "mae": sk.mean_absolute_error(truth, predicted),
        }
    )
