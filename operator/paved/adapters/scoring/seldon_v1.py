"""Score through the serving endpoint: Seldon Core v1's prediction protocol over HTTP."""

from __future__ import annotations

from typing import Any

import httpx
import pandas as pd

from paved.errors import ScoringUnavailableError


class SeldonScorer:
    def __init__(self, url: str, client: httpx.Client) -> None:
        self._url, self._client = url, client

    @classmethod
    def load(cls, _uri: str, endpoint: str | None) -> SeldonScorer:
        if endpoint is None:
            raise ValueError("scoring through the endpoint needs its URL (spec.scoring.endpoint)")
        return cls(endpoint, httpx.Client(timeout=5.0))

    def score(self, frame: pd.DataFrame) -> list[float]:
        """Each row's score, as the endpoint answers it (`data.ndarray`, one score a row)."""
        rows = frame.astype(object).where(frame.notna(), None).values.tolist()
        body = {"data": {"names": list(frame.columns), "ndarray": rows}}
        try:
            answer = self._client.post(self._url, json=body)
        except httpx.TransportError as error:
            raise ScoringUnavailableError(f"{self._url} does not answer: {error}") from error
        if answer.status_code in (502, 503, 504):
            raise ScoringUnavailableError(f"{self._url} answers {answer.status_code}")
        answer.raise_for_status()
        scores: Any = answer.json()["data"]["ndarray"]
        if any(isinstance(s, list) and len(s) > 2 for s in scores):
            # A multiclass model's k probabilities: none of them is the event's one score.
            raise ValueError(
                f"{self._url} answers class probabilities ({len(scores[0])} a row): streaming"
                " prediction writes one score per event"
            )
        return [float(s[-1] if isinstance(s, list) else s) for s in scores]
