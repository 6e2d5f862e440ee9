"""A revert puts back the version the Rollout's candidate replaced, and says why on both."""

from __future__ import annotations

import datetime as dt
import json

from paved.api.model_version import Stage
from paved.api.rollout import RolloutPhase
from paved.core.model_lifecycle import Refusal
from paved.core.model_versions import RegisteredVersion
from paved.core.reasons import RolloutReason, TransitionReason
from paved.core.registry_memory import REPLACED_TAG, RESTORED_TAG, REVERTED_TAG
from paved.core.reverts import Revert, RevertFacts, decide, previous_version, revert_due
from paved.core.rollout_ticks import Requests

NOW = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)
MODEL = "ml.churn"


def _version(number: str, stage: Stage, **tags: str) -> RegisteredVersion:
    return RegisteredVersion(
        MODEL, number, f"run-{number}", f"models:/{MODEL}/{number}", stage, tags
    )


V1_ARCHIVED = _version("1", Stage.ARCHIVED)
V2_PRODUCTION = _version("2", Stage.PRODUCTION, **{REPLACED_TAG: "1"})


def _facts(
    production: RegisteredVersion | None = V2_PRODUCTION,
    previous: RegisteredVersion | None = V1_ARCHIVED,
) -> RevertFacts:
    return RevertFacts("churn-v2", "AUC fell in production", V2_PRODUCTION, production, previous)


def test_the_previous_production_version_comes_back_and_both_versions_say_why() -> None:
    decision = decide(_facts(), now=NOW)

    assert isinstance(decision, Revert)
    assert (decision.restore.version, decision.archive.version) == ("1", "2")
    assert decision.reason is RolloutReason.REVERTED
    archived = json.loads(decision.archived_tags[REVERTED_TAG])
    restored = json.loads(decision.restored_tags[RESTORED_TAG])
    assert archived == {
        "at": NOW.isoformat(),
        "reason": "AUC fell in production",
        "rollout": "churn-v2",
        "restoredVersion": "1",
    }
    assert restored["replacing"] == "2"
    # The restored version keeps what it replaced first, never the version just reverted.
    assert decision.restored_tags[REPLACED_TAG] == ""


def test_a_revert_repeated_after_its_registry_part_is_done_finishes_the_same_way() -> None:
    restored_already = _version("1", Stage.PRODUCTION)

    decision = decide(_facts(production=restored_already), now=NOW)

    assert isinstance(decision, Revert)
    assert decision.restore.version == "1"


def test_nothing_to_go_back_to_is_refused() -> None:
    refused = decide(_facts(previous=None), now=NOW)

    assert isinstance(refused, Refusal)
    assert refused.reason == RolloutReason.REVERT_REFUSED
    assert "replaced no production version" in refused.message


def test_a_candidate_no_longer_production_is_not_reverted_by_its_old_rollout() -> None:
    v3 = _version("3", Stage.PRODUCTION, **{REPLACED_TAG: "2"})

    refused = decide(_facts(production=v3), now=NOW)

    assert isinstance(refused, Refusal)
    assert "version 3 is production" in refused.message


def test_only_an_archived_previous_version_is_restored() -> None:
    staged = _version("1", Stage.STAGING)

    refused = decide(_facts(previous=staged), now=NOW)

    assert isinstance(refused, Refusal)
    # Staging → production is a promotion: it needs its own verdict, never a revert's.
    assert refused.reason == TransitionReason.PROMOTION_REFUSED


def test_a_revert_acts_once_and_only_on_a_rollout_that_promoted() -> None:
    asked = Requests(revert="AUC fell (requested 2026-12-05T06:00:00+00:00)")

    assert revert_due(RolloutPhase.SUCCEEDED, asked, None)
    assert not revert_due(RolloutPhase.SUCCEEDED, asked, asked.revert)
    assert not revert_due(RolloutPhase.PROGRESSING, asked, None)
    assert not revert_due(RolloutPhase.SUCCEEDED, Requests(), None)
    assert previous_version(V2_PRODUCTION) == "1"
