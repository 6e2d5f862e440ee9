"""Requests that arrive while a model scores are scored together, and each gets its own rows."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest

from paved_local.dataplane.server import Batcher, PredictorFailedError


class CountingModel:
    """Scores x as the probability of class 1 and counts its calls."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        self.calls.append(len(frame))
        if (frame["x"] < 0).any():
            raise ValueError("x must not be negative")
        return np.column_stack([1 - frame["x"], frame["x"]])


async def test_concurrent_requests_share_one_call_and_get_their_own_scores() -> None:
    model = CountingModel()
    batcher = Batcher(model)
    frames = [pd.DataFrame({"x": [k / 10, k / 100]}) for k in range(1, 6)]
    results = await asyncio.gather(*(batcher.score(f) for f in frames))
    for frame, scores in zip(frames, results, strict=True):
        assert scores.rows() == pytest.approx(list(frame["x"]))
    # The first request starts a call; the four that came while it was queued share the next.
    assert sum(model.calls) == 10
    assert len(model.calls) <= 2


async def test_a_failing_call_fails_every_request_in_it() -> None:
    batcher = Batcher(CountingModel())
    failures = await asyncio.gather(
        batcher.score(pd.DataFrame({"x": [-1.0]})),
        batcher.score(pd.DataFrame({"x": [0.5]})),
        return_exceptions=True,
    )
    assert all(isinstance(f, PredictorFailedError) for f in failures)
    assert (await batcher.score(pd.DataFrame({"x": [0.25]}))).rows() == [0.25]


class Regressor:
    """Predicts 100·x: a value, with no probabilities to take a class's from."""

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(frame["x"] * 100)


async def test_a_regressor_is_served_its_value() -> None:
    scores = await Batcher(Regressor()).score(pd.DataFrame({"x": [2.5, 0.1]}))
    assert scores.rows() == [250.0, 10.0]
