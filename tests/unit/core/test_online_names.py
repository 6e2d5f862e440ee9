"""Who serves under a name online: the first created, and every contender agrees on it."""

from __future__ import annotations

import itertools

from paved.core.online_names import ONLINE_KINDS, Holder, holder, name_taken

EARLY, LATE = "2026-12-01T10:00:00Z", "2026-12-01T10:00:05Z"


def test_the_first_created_keeps_the_name_and_the_later_one_is_told_who_holds_it() -> None:
    view, scores = Holder("FeatureView", LATE), Holder("BatchPrediction", EARLY)

    refused = name_taken("churn", view, [scores])

    assert name_taken("churn", scores, [view]) is None
    assert refused is not None
    assert (refused.type, refused.status, refused.reason) == ("Accepted", "False", "NameTaken")
    assert refused.message.startswith("BatchPrediction churn, created first, serves its values")
    assert "this FeatureView would write and delete them" in refused.message


def test_alone_an_object_holds_its_name() -> None:
    assert name_taken("churn", Holder("StreamingPrediction", LATE), []) is None


def test_on_a_tie_every_contender_names_the_same_single_holder() -> None:
    contenders = [Holder(kind, EARLY) for kind in ONLINE_KINDS]
    for order in itertools.permutations(contenders):
        mine, *others = order
        assert holder(mine, others) == Holder("FeatureView", EARLY)
    refused = [c for c in contenders if name_taken("x", c, [o for o in contenders if o != c])]
    assert len(refused) == len(contenders) - 1
