"""What the registry remembers of a version beyond its lineage: every Rollout that ended on it
(rolled back or promoted, with the guardrail readings and the A/B result that decided it), the
version it replaced in production, and a revert. With the sign-off (`paved.approved_*`, written
when it is given) MLflow alone tells what happened to a version.

Pure: tag names and the values written under them (JSON, cut to what MLflow stores).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any, Final

from paved.api.rollout import RolloutPhase, RolloutStatus

# On a production version: the version production had before it (what a revert restores).
REPLACED_TAG: Final = "paved.replaced"
# On a version taken out of production by a revert: when, why, by which Rollout, what came back.
REVERTED_TAG: Final = "paved.reverted"
# On a version a revert put back: when, why, and the version it replaced.
RESTORED_TAG: Final = "paved.restored"
# `paved.rollout.<name>`: how that Rollout of the version ended, with its evidence.
ROLLOUT_TAG_PREFIX: Final = "paved.rollout."
# MLflow refuses longer tag values (its SQL stores keep 5000 characters, its REST API 8000).
MAX_TAG_VALUE: Final = 5000


def rollout_tag(rollout: str) -> str:
    return f"{ROLLOUT_TAG_PREFIX}{rollout}"


def _value(document: Mapping[str, Any]) -> str:
    """JSON for a tag; a document too long loses its guardrail detail, never its outcome."""
    text = json.dumps(document, sort_keys=True, default=str)
    if len(text) <= MAX_TAG_VALUE:
        return text
    short = {**document, "guardrails": "cut: see the Rollout's status", "truncated": True}
    return json.dumps(short, sort_keys=True, default=str)[:MAX_TAG_VALUE]


def rollout_ended(
    rollout: str, *, outcome: str, reason: str, message: str, status: RolloutStatus, at: dt.datetime
) -> dict[str, str]:
    """The tag a Rollout leaves on its candidate's version when it rolls back or promotes:
    the outcome, why, the last guardrail readings and the A/B or interleaving result."""
    experiment, interleaving = status.experiment, status.interleaving
    document = {
        "outcome": outcome,
        "reason": reason,
        "message": message,
        "at": at.isoformat(),
        "guardrails": [r.model_dump(mode="json", by_alias=True) for r in status.analysis],
        "abTest": experiment.model_dump(mode="json", by_alias=True) if experiment else None,
        "interleaving": (
            interleaving.model_dump(mode="json", by_alias=True) if interleaving else None
        ),
    }
    return {rollout_tag(rollout): _value(document)}


def revert_record(
    *, rollout: str, reason: str, at: dt.datetime, other_version: str, restored: bool
) -> dict[str, str]:
    """The tag a revert writes: on the version it archived (naming the one restored), or on
    the version it restored (naming the one replaced)."""
    if restored:
        document = {"at": at.isoformat(), "reason": reason, "rollout": rollout}
        return {RESTORED_TAG: _value({**document, "replacing": other_version})}
    document = {"at": at.isoformat(), "reason": reason, "rollout": rollout}
    return {REVERTED_TAG: _value({**document, "restoredVersion": other_version})}


def parsed(value: str | None) -> dict[str, Any] | None:
    """A tag written here, read back; None when absent or not ours."""
    if not value:
        return None
    try:
        found = json.loads(value)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


def promoted_at(tags: Mapping[str, str]) -> dt.datetime | None:
    """When a Rollout promoted the version (the latest, if several did), from its tags."""
    times = []
    for key, value in tags.items():
        document = parsed(value) if key.startswith(ROLLOUT_TAG_PREFIX) else None
        if (
            document
            and document.get("outcome") == RolloutPhase.SUCCEEDED.value
            and document.get("at")
        ):
            try:
                times.append(dt.datetime.fromisoformat(str(document["at"])))
            except ValueError:
                continue
    return max(times, default=None)
