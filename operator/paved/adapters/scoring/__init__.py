"""Scorers: how a stream worker scores a batch of feature rows (in its process, or over HTTP).

`IMPLEMENTATIONS`: scoring mode → the module and class that scores so, imported when chosen.
"""

from __future__ import annotations

from typing import Final

from paved.api.streaming_prediction import ScoringMode

IMPLEMENTATIONS: Final = {
    ScoringMode.IN_PROCESS: ("paved.adapters.scoring.in_process", "InProcessScorer"),
    ScoringMode.ENDPOINT: ("paved.adapters.scoring.seldon_v1", "SeldonScorer"),
}
