"""The promotion invariant: no decision gives the candidate all traffic, or promotes it, while it
may not be promoted — whatever the steps, and whatever the order of observations.

A state machine drives `decide` as the controller does: a router that shows the last split
applied (or something else, or nothing), guardrails, A/B results and a person's requests in any
order, and a right to promotion that comes and goes (a sign-off given, voided by a retraining, a
policy tightened)."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from paved.api.rollout import (
    AbTestStep,
    CanaryStep,
    FullStep,
    PauseStep,
    RolloutSpec,
    SeldonDeploymentTarget,
    ShadowStep,
    Step,
    Target,
)
from paved.core.reasons import RolloutReason
from paved.core.rollout_steps import (
    Decision,
    GuardrailState,
    GuardrailVerdict,
    Observations,
    Pause,
    Progress,
    Promote,
    RollBack,
    SetTraffic,
    Traffic,
    decide,
    traffic_for,
)
from paved.core.statistics import AbOutcome, AbResult

T0 = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
REFUSED = "ModelVersion churn-v2 has no sign-off."

_middle_steps = st.one_of(
    st.builds(lambda: Step(shadow=ShadowStep(duration="1m"))),
    # Weight 100 included: the core must hold the invariant for any split, not only those the
    # schema admits today.
    st.integers(1, 100).map(lambda w: Step(canary=CanaryStep(weight=w, duration="1m"))),
    st.integers(1, 99).map(
        lambda w: Step(ab_test=AbTestStep(weight=w, minimum_detectable_effect=0.05))
    ),
    st.sampled_from([None, "1m"]).map(lambda d: Step(pause=PauseStep(duration=d))),
)
step_lists = st.tuples(st.lists(_middle_steps, max_size=5), st.booleans()).map(
    lambda t: [*t[0], Step(full=FullStep())] if t[1] or not t[0] else t[0]
)

_readings = st.sampled_from(
    [
        (),
        (GuardrailVerdict("errorRate", GuardrailState.PASS, "0.1% ≤ 1%"),),
        (GuardrailVerdict("errorRate", GuardrailState.BREACH, "4% > 1%"),),
        (GuardrailVerdict("errorRate", GuardrailState.NO_DATA, "0 requests"),),
    ]
)
_ab = st.sampled_from([None, *AbOutcome]).map(
    lambda o: None if o is None else AbResult(o, 0.1, 0.05, 0.15, 0.01, 500, 500, 400, f"{o}")
)


class PromotionInvariant(RuleBasedStateMachine):
    """The controller's loop around `decide`, with the world's answers drawn at random."""

    @initialize(steps=step_lists, failure_limit=st.integers(0, 2))
    def start(self, steps: list[Step], failure_limit: int) -> None:
        self.spec = RolloutSpec(
            candidate="churn-v2",
            target=Target(seldon_deployment=SeldonDeploymentTarget(name="churn")),
            steps=steps,
            analysis={"interval": "30s", "failureLimit": failure_limit, "maxNoData": "2m"},
        )
        self.progress = Progress()
        self.applied = Traffic(100, 0, False)
        self.now = T0
        self.decisions: list[tuple[Observations, Decision]] = []

    @rule(
        router=st.sampled_from(["applied", "applied", "applied", "other", "nothing"]),
        other=st.sampled_from([Traffic(0, 100), Traffic(50, 50), Traffic(100, 0, True)]),
        guardrails=_readings,
        ab=_ab,
        refused=st.sampled_from([None, REFUSED]),
        rollback=st.sampled_from([False, False, False, True]),
        resume=st.booleans(),
        pause=st.sampled_from([None, None, "checking"]),
        promote=st.booleans(),
        seconds=st.integers(0, 200),
    )
    def tick(
        self,
        router: str,
        other: Traffic,
        guardrails: tuple[GuardrailVerdict, ...],
        ab: AbResult | None,
        refused: str | None,
        rollback: bool,
        resume: bool,
        pause: str | None,
        promote: bool,
        seconds: int,
    ) -> None:
        if self.progress.finished:
            return
        self.now += dt.timedelta(seconds=seconds)
        shown = {"applied": self.applied, "other": other, "nothing": None}[router]
        observed = Observations(
            shown,
            guardrails,
            ab=ab,
            rollback_requested=rollback,
            resume_requested=resume,
            pause_requested=pause,
            promote_requested=promote,
            promotion_refused=refused,
        )
        decision = decide(self.spec, self.progress, observed, now=self.now)
        self.decisions.append((observed, decision))
        if isinstance(decision, SetTraffic):
            self.applied = decision.traffic
        elif isinstance(decision, Promote):
            self.applied = Traffic(0, 100, False)
        self.progress = decision.progress

    @invariant()
    def never_all_traffic_nor_production_while_refused(self) -> None:
        if not getattr(self, "decisions", None):
            return
        observed, decision = self.decisions[-1]
        if observed.promotion_refused is None:
            return
        assert not isinstance(decision, Promote), decision
        if isinstance(decision, SetTraffic):
            assert decision.traffic.candidate < 100, decision

    @invariant()
    def promotion_only_from_a_full_step_the_router_shows(self) -> None:
        if not getattr(self, "decisions", None):
            return
        observed, decision = self.decisions[-1]
        if isinstance(decision, Promote):
            assert observed.traffic == Traffic(0, 100, False)


PromotionInvariant.TestCase.settings = settings(
    max_examples=150,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestPromotionInvariant = PromotionInvariant.TestCase


def _full_only(refused: str | None) -> Decision:
    spec = RolloutSpec(
        candidate="churn-v2",
        target=Target(seldon_deployment=SeldonDeploymentTarget(name="churn")),
        steps=[Step(full=FullStep())],
    )
    return decide(
        spec, Progress(), Observations(Traffic(100, 0), promotion_refused=refused), now=T0
    )


def test_a_full_only_rollout_moves_no_traffic_without_the_right_to_promote() -> None:
    held = _full_only(REFUSED)
    assert isinstance(held, Pause)
    assert held.reason == RolloutReason.PROMOTION_REFUSED
    assert held.progress == Progress()  # not started: nothing moved
    assert held.message.startswith(REFUSED)
    assert "step 1/1 (full)" in held.message


def test_a_full_only_rollout_goes_straight_to_full_once_it_may() -> None:
    entered = _full_only(None)
    assert isinstance(entered, SetTraffic)
    assert entered.traffic == Traffic(0, 100, False)


def test_a_canary_of_weight_100_waits_for_the_right_to_promote() -> None:
    spec = RolloutSpec(
        candidate="churn-v2",
        target=Target(seldon_deployment=SeldonDeploymentTarget(name="churn")),
        steps=[
            Step(shadow=ShadowStep(duration="1m")),
            Step(canary=CanaryStep(weight=100, duration="1m")),
        ],
    )
    in_shadow = Progress(step=0, step_started_at=T0)
    later = T0 + dt.timedelta(minutes=2)
    observed = Observations(traffic_for(spec.steps, 0), promotion_refused=REFUSED)
    held = decide(spec, in_shadow, observed, now=later)
    assert isinstance(held, Pause)
    assert held.progress == in_shadow


def test_a_voided_right_to_promote_at_full_gives_the_traffic_back() -> None:
    spec = RolloutSpec(
        candidate="churn-v2",
        target=Target(seldon_deployment=SeldonDeploymentTarget(name="churn")),
        steps=[Step(canary=CanaryStep(weight=10, duration="1m")), Step(full=FullStep())],
    )
    at_full = Progress(step=1, step_started_at=T0)
    observed = Observations(Traffic(0, 100), promotion_refused=REFUSED)
    back = decide(spec, at_full, observed, now=T0)
    assert isinstance(back, SetTraffic)
    assert back.traffic == Traffic(90, 10, False)
    assert back.progress.step == 0
    assert "back to step 1/2" in back.message


def test_a_candidate_deleted_mid_canary_rolls_back_to_the_baseline() -> None:
    spec = RolloutSpec(
        candidate="churn-v2",
        target=Target(seldon_deployment=SeldonDeploymentTarget(name="churn")),
        steps=[Step(canary=CanaryStep(weight=10, duration="10m")), Step(full=FullStep())],
    )
    in_canary = Progress(step=0, step_started_at=T0)
    gone = Observations(Traffic(90, 10), candidate_gone="ModelVersion churn-v2 is gone.")
    decision = decide(spec, in_canary, gone, now=T0)
    assert isinstance(decision, RollBack)
    assert (decision.reason, decision.traffic) == (
        RolloutReason.CANDIDATE_GONE,
        Traffic(100, 0, False),
    )
