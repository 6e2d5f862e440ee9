from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from paved.api.rollout import RolloutSpec
from paved.core.interleaving import PreferenceDesign, Record, interleaving_test
from paved.core.reasons import RolloutReason
from paved.core.rollout_steps import (
    Complete,
    Decision,
    GuardrailState,
    GuardrailVerdict,
    Hold,
    Observations,
    Pause,
    Progress,
    Promote,
    RollBack,
    SetTraffic,
    Traffic,
    decide,
    judged_as_shadow,
    requested,
    traffic_for,
)
from paved.core.statistics import AbOutcome, Design, Tally, ab_test

ROOT = Path(__file__).resolve().parents[3]
T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
SPEC = RolloutSpec.model_validate(
    yaml.safe_load((ROOT / "examples" / "03-rollout.yaml").read_text())["spec"]
)
GREEN = (GuardrailVerdict("errorRate", GuardrailState.PASS, "error rate 0.1% ≤ 1%"),)
RED = (GuardrailVerdict("errorRate", GuardrailState.BREACH, "error rate 4.2% > 1.0%"),)
QUIET = (GuardrailVerdict("errorRate", GuardrailState.NO_DATA, "0 requests in 1m"),)


def _run(observations: Observations, now: dt.datetime, progress: Progress) -> Decision:
    return decide(SPEC, progress, observations, now=now)


def test_a_rollout_walks_shadow_canaries_ab_and_full() -> None:
    progress, now, kinds = Progress(), T0, []
    win = ab_test(
        Tally(1_000, 10_000),
        Tally(1_400, 10_000),
        Design(0.01),
    )
    for _ in range(40):
        target = traffic_for(SPEC.steps, progress.step) if progress.step is not None else None
        decision = _run(Observations(target, GREEN, ab=win), now, progress)
        kinds.append(type(decision).__name__)
        if isinstance(decision, Promote):
            break
        progress = decision.progress
        now += dt.timedelta(minutes=6)
    assert isinstance(decision, Promote)
    assert kinds.count("SetTraffic") == 5  # shadow, canary 1%, canary 5%, A/B, full


def test_the_step_starts_only_when_the_router_shows_its_split() -> None:
    entered = _run(Observations(None, GREEN), T0, Progress())
    assert isinstance(entered, SetTraffic)
    assert entered.traffic == Traffic(100, 0, True)
    waiting = _run(Observations(Traffic(100, 0, False), GREEN), T0, entered.progress)
    assert isinstance(waiting, Hold)
    assert (waiting.reason, waiting.blind) == (RolloutReason.WAITING_FOR_TRAFFIC, False)
    assert "it shows baseline 100%, candidate 0%" in waiting.message


def test_a_breach_beyond_the_failure_limit_rolls_back_to_baseline() -> None:
    progress = Progress(step=1, step_started_at=T0)
    first = _run(Observations(Traffic(99, 1), RED), T0, progress)
    assert isinstance(first, Hold)  # failureLimit 1: one breach is tolerated
    second = _run(Observations(Traffic(99, 1), RED), T0, first.progress)
    assert isinstance(second, RollBack)
    assert second.traffic == Traffic(100, 0, False)
    assert "error rate 4.2% > 1.0% (breach 2 > failure limit 1)" in second.message


def test_a_person_rolls_back_in_one_step() -> None:
    decision = _run(
        Observations(Traffic(95, 5), GREEN, rollback_requested=True),
        T0,
        Progress(step=2, step_started_at=T0),
    )
    assert isinstance(decision, RollBack)
    assert decision.reason == RolloutReason.ROLLBACK_REQUESTED


def test_an_ab_loss_rolls_back_and_no_difference_pauses() -> None:
    progress = Progress(step=3, step_started_at=T0)
    loss = ab_test(
        Tally(1_400, 10_000),
        Tally(1_000, 10_000),
        Design(0.01),
    )
    rolled = _run(Observations(Traffic(50, 50), GREEN, ab=loss), T0, progress)
    assert isinstance(rolled, RollBack)
    assert rolled.reason == RolloutReason.AB_TEST_LOSS
    same = ab_test(
        Tally(10_000, 100_000),
        Tally(10_010, 100_000),
        Design(0.02),
    )
    assert same.outcome is AbOutcome.NO_DIFFERENCE
    paused = _run(Observations(Traffic(50, 50), GREEN, ab=same), T0, progress)
    assert isinstance(paused, Pause)


observations = st.builds(
    Observations,
    traffic=st.sampled_from(
        [
            None,
            Traffic(100, 0, True),
            Traffic(99, 1),
            Traffic(95, 5),
            Traffic(50, 50),
            Traffic(0, 100),
            Traffic(100, 0),
        ]
    ),
    guardrails=st.sampled_from([GREEN, RED, QUIET, ()]),
    rollback_requested=st.booleans(),
    resume_requested=st.booleans(),
    pause_requested=st.sampled_from([None, "", "checking the dashboards"]),
    promote_requested=st.booleans(),
    promotion_refused=st.sampled_from([None, "Production needs a sign-off by an approver."]),
)


@settings(max_examples=80, deadline=None)
@given(sequence=st.lists(st.tuples(observations, st.integers(0, 900)), min_size=1, max_size=25))
def test_every_decision_keeps_traffic_valid_and_replays_identically(
    sequence: list[tuple[Observations, int]],
) -> None:
    progress, now = Progress(), T0
    for observed, seconds in sequence:
        now += dt.timedelta(seconds=seconds)
        decision = decide(SPEC, progress, observed, now=now)
        assert decide(SPEC, progress, observed, now=now) == decision  # a restart replays the same
        if isinstance(decision, SetTraffic | RollBack):
            split = decision.traffic
            assert split.baseline + split.candidate == 100
            assert 0 <= split.candidate <= 100
        if isinstance(decision, RollBack):
            assert decision.traffic == Traffic(100, 0, False)
            assert decision.progress.finished
        if observed.pause_requested is not None:
            # A pause never moves traffic forward nor finishes; only a rollback ends it. A
            # candidate that lost its right to production gives its traffic back all the same.
            assert not isinstance(decision, Complete)
            if isinstance(decision, SetTraffic):
                assert decision.reason is RolloutReason.PROMOTION_REFUSED
                assert decision.traffic.candidate < 100
        if (
            observed.promote_requested
            and isinstance(decision, SetTraffic)
            and decision.reason is not RolloutReason.PROMOTION_REFUSED
        ):
            # A promote only skips to full; a candidate that lost its right to production at
            # full gives its traffic back first (safety ranks above a person's requests).
            assert decision.progress.step == len(SPEC.steps) - 1
        if observed.promotion_refused and isinstance(decision, SetTraffic):
            assert decision.traffic != Traffic(0, 100, False)  # no sign-off, no full
        if observed.guardrails == QUIET and progress.step is not None:
            # "No data" never promotes: the position does not move forward.
            assert not isinstance(decision, Complete) or progress.step == len(SPEC.steps) - 1
            if isinstance(decision, SetTraffic):
                if decision.reason is RolloutReason.PROMOTION_REFUSED:
                    # Safety, not data: a candidate at full that lost its right to production
                    # steps back, whatever the guardrails read.
                    assert decision.traffic.candidate < 100
                else:
                    assert decision.progress.step == progress.step
        progress = decision.progress


def test_without_a_sign_off_the_rollout_pauses_before_full_and_goes_on_once_signed() -> None:
    at_ab = Progress(step=3, step_started_at=T0)
    win = ab_test(
        Tally(1_000, 10_000),
        Tally(1_400, 10_000),
        Design(0.01),
    )
    refused = "Production needs a sign-off by an approver."
    held = _run(Observations(Traffic(50, 50), GREEN, ab=win, promotion_refused=refused), T0, at_ab)
    assert isinstance(held, Pause)
    assert held.reason == RolloutReason.PROMOTION_REFUSED
    assert held.message.startswith(refused)
    assert "step 5/5 (full)" in held.message
    signed = _run(Observations(Traffic(50, 50), GREEN, ab=win), T0, held.progress)
    assert isinstance(signed, SetTraffic)
    assert signed.traffic == Traffic(0, 100, False)


def test_a_candidate_that_already_takes_all_traffic_has_nothing_to_roll_out() -> None:
    decision = _run(Observations(Traffic(0, 100, False), GREEN), T0, Progress())
    assert isinstance(decision, Complete)
    assert decision.reason == RolloutReason.ALREADY_SERVING


def test_guardrails_judge_the_shadow_only_while_shadowing() -> None:
    assert judged_as_shadow(Traffic(100, 0, True))
    assert not judged_as_shadow(Traffic(95, 5, False))
    assert not judged_as_shadow(None)


IN_CANARY = Progress(step=1, step_started_at=T0)  # canary 1% for 5m
CANARY = Traffic(99, 1)
SIGN_OFF_MISSING = "Production needs a sign-off by an approver."


def test_a_paused_rollout_holds_its_step_and_its_traffic() -> None:
    later = T0 + dt.timedelta(minutes=30)  # long past the canary's 5m
    paused = _run(
        Observations(CANARY, GREEN, pause_requested="checking the dashboards"), later, IN_CANARY
    )
    assert isinstance(paused, Pause)
    assert paused.reason == RolloutReason.PAUSED_BY_REQUEST
    assert "checking the dashboards" in paused.message
    assert paused.progress == IN_CANARY


def test_a_resumed_rollout_goes_on_where_the_steps_clock_says() -> None:
    # The step's clock ran during the pause: its time is up, so the next step starts at once.
    later = T0 + dt.timedelta(minutes=30)
    resumed = _run(Observations(CANARY, GREEN, resume_requested=True), later, IN_CANARY)
    assert isinstance(resumed, SetTraffic)
    assert (resumed.progress.step, resumed.traffic) == (2, Traffic(95, 5))


def test_a_pause_does_not_start_a_rollout_that_has_not_started() -> None:
    paused = _run(Observations(None, (), pause_requested=""), T0, Progress())
    assert isinstance(paused, Pause)
    assert paused.message == "Paused by request. Resume to go on, or roll back."
    assert paused.progress == Progress()


def test_a_rollback_request_wins_over_a_pause() -> None:
    observed = Observations(CANARY, GREEN, rollback_requested=True, pause_requested="on hold")
    decision = _run(observed, T0, IN_CANARY)
    assert isinstance(decision, RollBack)
    assert (decision.reason, decision.traffic) == (
        RolloutReason.ROLLBACK_REQUESTED,
        Traffic(100, 0, False),
    )


def test_a_guardrail_breach_still_rolls_a_paused_rollout_back() -> None:
    once_breached = Progress(step=1, step_started_at=T0, breaches=1)  # failureLimit 1
    decision = _run(Observations(CANARY, RED, pause_requested="on hold"), T0, once_breached)
    assert isinstance(decision, RollBack)
    assert decision.reason == RolloutReason.GUARDRAIL_BREACHED


def test_a_promote_skips_the_remaining_steps_to_full_which_then_promotes() -> None:
    skipped = _run(Observations(CANARY, GREEN, promote_requested=True), T0, IN_CANARY)
    assert isinstance(skipped, SetTraffic)
    assert skipped.reason == RolloutReason.PROMOTE_REQUESTED
    assert (skipped.progress.step, skipped.traffic) == (4, Traffic(0, 100, False))
    # From there the full step promotes as ever, once the router shows the candidate serving.
    promoted = _run(Observations(Traffic(0, 100), ()), T0, skipped.progress)
    assert isinstance(promoted, Promote)


def test_a_promote_without_a_sign_off_pauses_and_is_not_kept_for_later() -> None:
    refused = _run(
        Observations(CANARY, GREEN, promote_requested=True, promotion_refused=SIGN_OFF_MISSING),
        T0,
        IN_CANARY,
    )
    assert isinstance(refused, Pause)
    assert (refused.reason, refused.message) == (
        RolloutReason.PROMOTION_REFUSED,
        f"Promote refused: {SIGN_OFF_MISSING}",
    )
    assert refused.progress == IN_CANARY
    # The annotation stays on the Rollout, but its value was consumed: signed off later, the
    # rollout goes on step by step rather than jumping to full.
    promote = "2026-11-26T12:00:00+00:00"
    signed = Observations(CANARY, GREEN, promote_requested=requested(promote, consumed=promote))
    later = _run(signed, T0 + dt.timedelta(minutes=1), refused.progress)
    assert isinstance(later, Hold)
    assert later.reason == RolloutReason.STEP_IN_PROGRESS


def test_a_request_acts_once_per_annotation_value() -> None:
    first = "2026-11-26T12:00:00+00:00"
    assert requested(first, consumed=None)
    assert not requested(first, consumed=first)
    assert requested("2026-11-26T12:05:00+00:00", consumed=first)  # the same request, again
    assert not requested(None, consumed=first)


def test_a_promote_never_skips_a_guardrail_breach() -> None:
    once_breached = Progress(step=1, step_started_at=T0, breaches=1)
    rolled = _run(Observations(CANARY, RED, promote_requested=True), T0, once_breached)
    assert isinstance(rolled, RollBack)
    assert rolled.reason == RolloutReason.GUARDRAIL_BREACHED
    tolerated = _run(Observations(CANARY, RED, promote_requested=True), T0, IN_CANARY)
    assert isinstance(tolerated, Hold)
    assert tolerated.reason == RolloutReason.PROMOTE_NOT_POSSIBLE
    assert "error rate 4.2% > 1.0%" in tolerated.message
    assert tolerated.progress.breaches == 1


def test_a_promote_needs_a_full_step_to_skip_to() -> None:
    without_full = SPEC.model_copy(update={"steps": SPEC.steps[:-1]})
    decision = decide(
        without_full, IN_CANARY, Observations(CANARY, GREEN, promote_requested=True), now=T0
    )
    assert isinstance(decision, Hold)
    assert decision.reason == RolloutReason.PROMOTE_NOT_POSSIBLE
    assert "this rollout's last step is abTest" in decision.message


def test_silence_carried_from_the_last_analysis_keeps_a_step_from_ending() -> None:
    progress = Progress(step=1, step_started_at=T0)
    later = T0 + dt.timedelta(hours=1)  # long past the canary's duration
    held = _run(Observations(Traffic(99, 1), carried=QUIET), later, progress)
    assert isinstance(held, Hold)
    assert held.reason == RolloutReason.NO_DATA


def test_a_breach_carried_between_analyses_is_not_counted_again() -> None:
    progress = Progress(step=1, step_started_at=T0, breaches=1)
    decision = _run(Observations(Traffic(99, 1), carried=RED), T0, progress)
    assert not isinstance(decision, RollBack)
    assert decision.progress.breaches == 1


PROMETHEUS_DOWN = "Prometheus unreachable: connection refused"
WIN = ab_test(
    Tally(1_000, 10_000),
    Tally(1_400, 10_000),
    Design(0.01),
)


def test_unreadable_guardrails_hold_the_step_past_its_duration_and_never_promote() -> None:
    long_past = T0 + dt.timedelta(hours=1)  # the canary's 5 minutes are long over
    for observed in (
        Observations(CANARY, metrics_unavailable=PROMETHEUS_DOWN),
        Observations(CANARY, metrics_unavailable=PROMETHEUS_DOWN, promote_requested=True),
        Observations(Traffic(50, 50), metrics_unavailable=PROMETHEUS_DOWN, ab=WIN),
    ):
        progress = IN_CANARY if observed.traffic == CANARY else Progress(3, T0)
        held = _run(observed, long_past, progress)
        assert isinstance(held, Hold), observed
        assert (held.reason, held.blind) == (RolloutReason.METRICS_UNAVAILABLE, True)
        assert held.progress == progress
        assert PROMETHEUS_DOWN in held.message
        assert "Holding at step" in held.message


def test_an_outage_is_no_evidence_against_the_candidate_but_a_person_can_still_roll_back() -> None:
    once_breached = Progress(step=1, step_started_at=T0, breaches=1)  # one more would roll back
    held = _run(Observations(CANARY, metrics_unavailable=PROMETHEUS_DOWN), T0, once_breached)
    assert isinstance(held, Hold)
    assert held.progress.breaches == 1
    asked = Observations(CANARY, metrics_unavailable=PROMETHEUS_DOWN, rollback_requested=True)
    rolled = _run(asked, T0, IN_CANARY)
    assert isinstance(rolled, RollBack)
    assert rolled.traffic == Traffic(100, 0, False)


RANKERS = RolloutSpec.model_validate(
    {
        "candidate": "ranker-v2",
        "target": {"seldonDeployment": {"name": "search"}},
        "steps": [
            {"canary": {"weight": 10, "duration": "1m"}},
            {
                "interleave": {
                    "weight": 50,
                    "minimumDetectablePreference": 0.05,
                    "policy": {"noDifference": "pause"},
                }
            },
            {"full": {}},
        ],
    }
)
INTERLEAVING = Progress(step=1, step_started_at=T0)
INTERLEAVED = Traffic(50, 50, interleaved=True)


def _interleaved(wins: int, losses: int, ties: int = 0) -> Observations:
    result = interleaving_test(Record(wins, losses, ties), PreferenceDesign(0.05))
    return Observations(INTERLEAVED, GREEN, interleaving=result)


def test_an_interleave_step_asks_the_router_for_interleaved_rankings() -> None:
    entered = decide(
        RANKERS,
        Progress(step=0, step_started_at=T0),
        Observations(Traffic(90, 10), GREEN),
        now=T0 + dt.timedelta(minutes=2),
    )
    assert isinstance(entered, SetTraffic)
    assert entered.traffic == INTERLEAVED
    assert "rankings interleaved" in entered.message
    # A plain 50/50 split is not the step's: it waits for the router to interleave.
    waiting = decide(RANKERS, entered.progress, Observations(Traffic(50, 50), GREEN), now=T0)
    assert isinstance(waiting, Hold)
    assert waiting.reason is RolloutReason.WAITING_FOR_TRAFFIC


def test_an_interleave_step_goes_on_with_a_win_and_rolls_back_a_loss() -> None:
    won = decide(RANKERS, INTERLEAVING, _interleaved(330, 250, 400), now=T0)
    assert isinstance(won, SetTraffic)
    assert won.traffic == Traffic(0, 100)
    assert "interleaving win: candidate win rate" in won.message
    lost = decide(RANKERS, INTERLEAVING, _interleaved(250, 330, 400), now=T0)
    assert isinstance(lost, RollBack)
    assert lost.reason is RolloutReason.INTERLEAVING_LOSS
    assert "wins 250, losses 330, ties 400" in lost.message


def test_an_interleave_step_keeps_going_undecided_and_pauses_on_no_difference() -> None:
    going = decide(RANKERS, INTERLEAVING, _interleaved(51, 50, 10), now=T0)
    assert isinstance(going, Hold)
    assert going.reason is RolloutReason.EXPERIMENTING
    waiting = decide(RANKERS, INTERLEAVING, Observations(INTERLEAVED, GREEN), now=T0)
    assert isinstance(waiting, Hold)
    assert waiting.message == "waiting for interleaved queries"
    same = decide(RANKERS, INTERLEAVING, _interleaved(5_010, 5_000), now=T0)
    assert isinstance(same, Pause)
    assert same.reason is RolloutReason.INTERLEAVING_NEEDS_JUDGEMENT


def test_a_guardrail_breach_rolls_back_an_interleave_step_whatever_the_clicks_say() -> None:
    winning = _interleaved(330, 250, 400)
    breached = Observations(INTERLEAVED, RED, interleaving=winning.interleaving)
    decision = decide(RANKERS, INTERLEAVING, breached, now=T0)
    assert isinstance(decision, RollBack)
    assert decision.reason is RolloutReason.GUARDRAIL_BREACHED
    assert decision.traffic == Traffic(100, 0)
