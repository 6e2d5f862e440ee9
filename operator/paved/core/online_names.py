"""One online name per namespace: whose values are served under a name (ADR 0045).

A FeatureView, a BatchPrediction and a StreamingPrediction each serve their values from the
online store under their own name (the SDK, the feature server and serving read them alike),
and the online store keys and deletes by that name. Two of them with one name would write,
read and delete each other's values, so the one created first keeps the name and the others
are not accepted until it is gone or renamed.

Pure: the caller looks up when each same-named object of the other kinds was created.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from paved.api.crds import BATCH_PREDICTION, FEATURE_VIEW, STREAMING_PREDICTION
from paved.core.conditions import Observation
from paved.core.reasons import AcceptanceReason
from paved.core.references import ACCEPTED

# The kinds that serve under their own name; the order breaks a tie in creation time.
ONLINE_KINDS: Final = (FEATURE_VIEW.kind, BATCH_PREDICTION.kind, STREAMING_PREDICTION.kind)


@dataclass(frozen=True)
class Holder:
    """An object that serves under the name: its kind, and its creationTimestamp (RFC 3339,
    so it orders as text)."""

    kind: str
    created: str

    def _order(self) -> tuple[str, int]:
        return self.created, ONLINE_KINDS.index(self.kind)


def holder(mine: Holder, others: Iterable[Holder]) -> Holder:
    """Who keeps the name: the first created, and on a tie the first in ONLINE_KINDS. Every
    contender computes the same answer, so exactly one of them writes."""
    return min((mine, *others), key=Holder._order)


def name_taken(name: str, mine: Holder, others: Iterable[Holder]) -> Observation | None:
    """Not accepted, naming who holds the name, unless `mine` holds it."""
    kept = holder(mine, others)
    if kept == mine:
        return None
    message = (
        f"{kept.kind} {name}, created first, serves its values online under this name; "
        f"this {mine.kind} would write and delete them. Rename one of them."
    )
    return Observation(ACCEPTED, "False", AcceptanceReason.NAME_TAKEN, message)
