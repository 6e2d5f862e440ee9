"""The prediction log's join is point-in-time correct: outcomes that arrive late, out of order
and repeated give the labels a brute-force reading of the rule gives, and sampling and partitions
follow their rules."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from paved.core.prediction_log import (
    Joined,
    LogKind,
    Outcome,
    OutcomeKind,
    Prediction,
    entity_key,
    join,
    partition,
    sampled,
)

START = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
HORIZON = dt.timedelta(minutes=30)
# Drawing hundreds of logs takes seconds, more on a shared machine.
SLOW = pytest.mark.timeout(60)
ENTITIES = [entity_key({"user_id": n}) for n in range(4)]


def minutes(n: int) -> dt.datetime:
    return START + dt.timedelta(minutes=n)


def last_received(o: Outcome) -> tuple[dt.datetime, float, dt.datetime]:
    return o.received_at, o.value, o.event_time


def reference(
    predictions: list[Prediction], outcomes: list[Outcome], as_of: dt.datetime
) -> list[Joined]:
    """The rule read literally, one prediction at a time over every outcome."""
    answers = []
    for p in predictions:
        known = [o for o in outcomes if o.received_at <= as_of]
        own = [o for o in known if o.kind is OutcomeKind.FEEDBACK and o.key == p.request_id]
        if own:
            answers.append(Joined(p, max(own, key=last_received)))
            continue
        after = [
            o
            for o in known
            if o.kind is OutcomeKind.LABEL
            and o.key == p.entity
            and p.served_at < o.event_time <= p.served_at + HORIZON
        ]
        if not after:
            answers.append(Joined(p, None))
            continue
        first = min(o.event_time for o in after)
        same = [o for o in after if o.event_time == first]
        answers.append(Joined(p, max(same, key=last_received)))
    return answers


@st.composite
def logs(draw: st.DrawFn) -> tuple[list[Prediction], list[Outcome], dt.datetime]:
    """Predictions over two hours; outcomes for some of them and for entities, arriving up to
    two hours late, shuffled, some sent two or three times (sometimes corrected). Times are
    whole minutes over a few entities and request ids, so ties and collisions are common."""
    count = draw(st.integers(0, 25))
    predictions = [
        Prediction(
            request_id=f"r{i}",
            entity=draw(st.sampled_from(ENTITIES)),
            served_at=minutes(draw(st.integers(0, 120))),
            model_version=draw(st.sampled_from(["3", "4"])),
            score=draw(st.floats(0, 1)),
        )
        for i in range(count)
    ]
    outcomes: list[Outcome] = []
    for _ in range(draw(st.integers(0, 40))):
        feedback = draw(st.booleans())
        happened = minutes(draw(st.integers(0, 150)) // 5 * 5)
        outcome = Outcome(
            kind=OutcomeKind.FEEDBACK if feedback else OutcomeKind.LABEL,
            key=f"r{draw(st.integers(0, 30))}" if feedback else draw(st.sampled_from(ENTITIES)),
            value=float(draw(st.integers(0, 1))),
            event_time=happened,
            received_at=happened + dt.timedelta(minutes=draw(st.integers(0, 120))),
        )
        outcomes.append(outcome)
        for _ in range(draw(st.integers(0, 2))):  # repeated: a retry, or a correction
            later = dt.timedelta(minutes=draw(st.sampled_from([0, 0, 10, 60])))
            value = float(draw(st.integers(0, 1)))
            outcomes.append(
                Outcome(outcome.kind, outcome.key, value, happened, outcome.received_at + later)
            )
    shuffled = draw(st.permutations(outcomes))
    return predictions, list(shuffled), minutes(draw(st.integers(0, 300)))


@SLOW
@settings(max_examples=150, deadline=None)
@given(logs())
def test_the_join_equals_the_brute_force_reference(
    log: tuple[list[Prediction], list[Outcome], dt.datetime],
) -> None:
    predictions, outcomes, as_of = log
    assert join(predictions, outcomes, as_of=as_of, horizon=HORIZON) == reference(
        predictions, outcomes, as_of
    )


@SLOW
@settings(max_examples=100, deadline=None)
@given(logs(), st.randoms(use_true_random=False))
def test_arrival_order_and_outcomes_received_after_the_moment_change_nothing(
    log: tuple[list[Prediction], list[Outcome], dt.datetime], shuffle: random.Random
) -> None:
    predictions, outcomes, as_of = log
    joined = join(predictions, outcomes, as_of=as_of, horizon=HORIZON)
    reordered = list(outcomes)
    shuffle.shuffle(reordered)
    unknown_yet = Outcome(OutcomeKind.FEEDBACK, "r0", 1.0, as_of, as_of + dt.timedelta(seconds=1))
    assert join(predictions, [*reordered, unknown_yet], as_of=as_of, horizon=HORIZON) == joined


def test_a_late_outcome_joins_once_it_is_known() -> None:
    prediction = Prediction("r1", ENTITIES[0], minutes(0), "3", 0.9)
    label = Outcome(OutcomeKind.LABEL, ENTITIES[0], 1.0, minutes(10), received_at=minutes(90))
    assert join([prediction], [label], as_of=minutes(60), horizon=HORIZON)[0].outcome is None
    assert join([prediction], [label], as_of=minutes(90), horizon=HORIZON)[0].outcome == label


def test_feedback_wins_over_a_label_and_a_correction_over_the_first_answer() -> None:
    prediction = Prediction("r1", ENTITIES[0], minutes(0), "3", 0.9)
    label = Outcome(OutcomeKind.LABEL, ENTITIES[0], 0.0, minutes(5), minutes(5))
    first = Outcome(OutcomeKind.FEEDBACK, "r1", 0.0, minutes(1), minutes(1))
    corrected = Outcome(OutcomeKind.FEEDBACK, "r1", 1.0, minutes(1), minutes(20))
    joined = join([prediction], [corrected, label, first], as_of=minutes(30), horizon=HORIZON)
    assert joined[0].outcome == corrected


def test_a_reward_is_no_label_and_never_judges_a_prediction() -> None:
    prediction = Prediction("r1", ENTITIES[0], minutes(0), "3", 0.9)
    reward = Outcome(OutcomeKind.REWARD, "r1", 1.0, minutes(1), minutes(1))
    label = Outcome(OutcomeKind.LABEL, ENTITIES[0], 0.0, minutes(5), minutes(5))
    joined = join([prediction], [reward, label], as_of=minutes(30), horizon=HORIZON)
    assert joined[0].outcome == label


def test_a_label_before_the_prediction_or_past_the_horizon_does_not_judge_it() -> None:
    prediction = Prediction("r1", ENTITIES[0], minutes(60), "3", 0.9)
    before = Outcome(OutcomeKind.LABEL, ENTITIES[0], 1.0, minutes(60), minutes(60))
    too_late = Outcome(OutcomeKind.LABEL, ENTITIES[0], 1.0, minutes(91), minutes(91))
    joined = join([prediction], [before, too_late], as_of=minutes(200), horizon=HORIZON)
    assert joined[0].outcome is None


def test_sampling_keeps_about_the_rate_and_decides_by_request_id() -> None:
    ids = [f"request-{n}" for n in range(20_000)]
    kept = [i for i in ids if sampled(i, 0.1)]
    # 2,000 expected; ±5 standard deviations (about 212).
    assert 1_788 <= len(kept) <= 2_212
    assert all(sampled(i, 0.1) for i in kept)  # the same request always decides the same way
    assert all(sampled(i, 1.0) for i in ids[:100])
    assert not any(sampled(i, 0.0) for i in ids[:100])
    with pytest.raises(ValueError, match="between 0 and 1"):
        sampled("r", 1.5)


def test_records_are_partitioned_by_model_and_day_and_a_name_never_climbs_out() -> None:
    day = dt.date(2026, 12, 5)
    assert str(partition(LogKind.PREDICTIONS, "churn", day)) == (
        "predictions/model=churn/day=2026-12-05"
    )
    assert str(partition(LogKind.OUTCOMES, "a/../b", day)) == (
        "outcomes/model=a%2F..%2Fb/day=2026-12-05"
    )
    assert str(partition(LogKind.OUTCOMES, "..", day)) == "outcomes/model=%2E%2E/day=2026-12-05"
    assert str(partition(LogKind.OUTCOMES, "", day)) == "outcomes/model=_unnamed/day=2026-12-05"


def test_an_entity_is_its_join_keys_in_one_canonical_form() -> None:
    assert entity_key({"b": "x", "a": 1}) == entity_key({"a": 1, "b": "x"}) == '{"a":1,"b":"x"}'
