"""A model's answer per row as the protocols carry it: one score, or a multiclass model's class
probabilities, named and shaped as Seldon's and KServe's scikit-learn servers answer them."""

from __future__ import annotations

import numpy as np
import pytest

from paved_local.dataplane.scores import NotOneScoreError, Scores

THREE_CLASSES = [[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]]


def test_a_binary_probability_matrix_is_its_positive_class() -> None:
    scores = Scores.of_model(np.array([[0.9, 0.1], [0.3, 0.7]]))

    assert not scores.multiclass
    assert scores.rows() == [0.1, 0.7]
    assert scores.names() == ["score"]
    assert scores.v2_output("score")["shape"] == [2]


def test_a_multiclass_model_answers_each_class_probability_per_row() -> None:
    scores = Scores.of_model(np.array(THREE_CLASSES))

    assert scores.multiclass
    assert scores.rows() == THREE_CLASSES
    assert scores.names() == ["t:0", "t:1", "t:2"]
    output = scores.v2_output("score")
    assert (output["shape"], output["data"]) == ([2, 3], [0.7, 0.2, 0.1, 0.1, 0.3, 0.6])
    assert scores.headline().tolist() == [0.7, 0.6]  # the top class's: the model's confidence


def test_a_regressors_value_is_its_score() -> None:
    assert Scores.of_model([250.0, 10.0]).rows() == [250.0, 10.0]


def test_one_requests_rows_of_a_batch_keep_their_vectors() -> None:
    assert Scores.of_model(np.array(THREE_CLASSES)).take(1, 2).rows() == [THREE_CLASSES[1]]


def test_a_multiclass_model_has_no_one_score_to_rank_by() -> None:
    with pytest.raises(NotOneScoreError, match="3 class probabilities a row"):
        Scores.of_model(np.array(THREE_CLASSES)).single()


def test_a_shifted_multiclass_answer_stays_a_distribution() -> None:
    shifted = Scores.of_model(np.array(THREE_CLASSES)).shifted(0.3)

    assert np.allclose(shifted.values.sum(axis=1), 1.0)
    assert shifted.headline().tolist() == pytest.approx([1.0 / 1.3, 0.9 / 1.3])
    assert Scores.of_model([0.9]).shifted(0.3).rows() == [1.0]


def test_scores_of_more_than_two_dimensions_are_refused() -> None:
    with pytest.raises(ValueError, match="one or k values a row"):
        Scores(np.zeros((2, 2, 2)))
