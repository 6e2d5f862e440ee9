"""A revert: put back the version production had before the current one, in one move.

Pure. `paved model revert` asks the finished Rollout that promoted the current production
version to undo it (the `paved.dev/revert` annotation); the controller reads the Rollout's
candidate's registry version, the one it replaced (`paved.replaced`, written when it became
production) and who holds production now, and `decide` says what to do: serve the previous
version's model on the target's baseline, make it production again (the one archived → production
move there is, `model_lifecycle`), archive the reverted one, and write why on both.
Repeated after a crash, a revert whose registry part is done finishes the same way.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from paved.api.model_version import Stage
from paved.api.rollout import RolloutPhase
from paved.core.model_lifecycle import Evidence, Refusal, transition
from paved.core.model_versions import RegisteredVersion
from paved.core.reasons import RolloutReason
from paved.core.registry_memory import REPLACED_TAG, revert_record
from paved.core.rollout_steps import requested
from paved.core.rollout_ticks import Requests


@dataclass(frozen=True)
class RevertFacts:
    rollout: str
    reason: str  # the person's words, the annotation's value
    candidate: RegisteredVersion | None  # the version the Rollout promoted
    production: RegisteredVersion | None  # the registry's production version now
    previous: RegisteredVersion | None  # the version the candidate replaced, if recorded


@dataclass(frozen=True)
class Revert:
    """Serve `restore` on the baseline, make it production (archiving `archive`), tag both."""

    restore: RegisteredVersion
    archive: RegisteredVersion
    message: str
    archived_tags: dict[str, str] = field(default_factory=dict)
    restored_tags: dict[str, str] = field(default_factory=dict)
    reason: RolloutReason = RolloutReason.REVERTED


def revert_due(phase: RolloutPhase | None, requests: Requests, consumed: str | None) -> bool:
    """Whether a Rollout acts on a revert request now: only once it has promoted its candidate
    (a Rollout still under way rolls back instead), and each request once."""
    return phase is RolloutPhase.SUCCEEDED and requested(requests.revert, consumed)


def previous_version(candidate: RegisteredVersion | None) -> str | None:
    """Which version the candidate replaced in production, as the registry recorded it."""
    return candidate.tags.get(REPLACED_TAG) if candidate is not None else None


def decide(facts: RevertFacts, *, now: dt.datetime) -> Revert | Refusal:
    """Whether the Rollout's candidate can be reverted now, and how."""
    candidate, previous, production = facts.candidate, facts.previous, facts.production
    if candidate is None:
        return _refused("the Rollout's candidate has no registry version to revert.")
    if previous is None:
        return _refused(
            f"{candidate.model} version {candidate.version} replaced no production version "
            "(none is recorded): there is nothing to go back to."
        )
    current = production.version if production is not None else None
    if current not in (candidate.version, previous.version):
        held = f"version {current} is" if current else "no version is"
        return _refused(
            f"{candidate.model} {held} production, not version {candidate.version}: revert "
            "the Rollout that promoted it."
        )
    if current == candidate.version:
        restored = transition(previous.stage, Stage.PRODUCTION, Evidence(True, reverting=True))
        if isinstance(restored, Refusal):
            return restored
    return _revert(facts, candidate, previous, now=now)


def _revert(
    facts: RevertFacts,
    candidate: RegisteredVersion,
    previous: RegisteredVersion,
    *,
    now: dt.datetime,
) -> Revert:
    return Revert(
        previous,
        candidate,
        f"Reverted {candidate.model} version {candidate.version} ({facts.reason}): version "
        f"{previous.version} serves all traffic and is production again.",
        revert_record(
            rollout=facts.rollout,
            reason=facts.reason,
            at=now,
            other_version=previous.version,
            restored=False,
        ),
        {
            **revert_record(
                rollout=facts.rollout,
                reason=facts.reason,
                at=now,
                other_version=candidate.version,
                restored=True,
            ),
            # What it replaced when it first became production: never the reverted version.
            REPLACED_TAG: _replaced_before(previous, candidate),
        },
    )


def _replaced_before(previous: RegisteredVersion, candidate: RegisteredVersion) -> str:
    replaced = previous.tags.get(REPLACED_TAG, "")
    return "" if replaced == candidate.version else replaced


def _refused(message: str) -> Refusal:
    return Refusal(RolloutReason.REVERT_REFUSED, f"Revert refused: {message}")
