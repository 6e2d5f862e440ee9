"""The Rollout step engine: (spec, progress, observations, now) → one decision.

Pure: the controller observes traffic, guardrails and requests, and carries the decision out.
The step position lives in the progress (status), never inferred from traffic. A step counts as
started only once the observed traffic matches it. "No data" never promotes.

A person's requests rank below safety: a rollback request wins over everything, and a guardrail
breach or lasting "no data" still rolls back a paused rollout. A pause holds the position and the
split; the step's clock keeps running meanwhile, so a step whose time is up goes on as soon as the
pause is lifted. A promote skips the remaining steps to the last, `full`, step, which promotes as
ever: only with the sign-off, and never past a red or silent guardrail. A promote acts once, when
it arrives: refused, or during a pause, it is dropped rather than left to surprise later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, assert_never

from paved.api.meta import parse_duration
from paved.api.rollout import NoDataPolicy, OutcomeAction, RolloutSpec, Step
from paved.core.promotion_policy import NamedPolicy, evidence_shortfall, is_gate
from paved.core.statistics import AbOutcome, AbResult


@dataclass(frozen=True)
class Traffic:
    baseline: int
    candidate: int
    shadow: bool = False


BASELINE_ONLY = Traffic(100, 0, False)
METRICS_UNAVAILABLE: Final = "MetricsUnavailable"
PROMOTION_REFUSED: Final = "PromotionRefused"
POLICY_VIOLATED: Final = "PolicyViolated"
METRICS_RETRY_SECONDS: Final = 5.0


class GuardrailState(StrEnum):
    PASS = "pass"
    BREACH = "breach"
    NO_DATA = "noData"


@dataclass(frozen=True)
class GuardrailReading:
    guardrail: str
    state: GuardrailState
    message: str
    value: float | None = None
    threshold: float | None = None  # the limit the value was held against


@dataclass(frozen=True)
class Progress:
    """What the status remembers between decisions."""

    step: int | None = None  # None: not started
    step_started_at: dt.datetime | None = None  # when the observed traffic matched the step
    breaches: int = 0
    no_data_since: dt.datetime | None = None
    finished: bool = False


@dataclass(frozen=True)
class Observations:
    traffic: Traffic | None  # what the router reports, None when it cannot tell
    guardrails: Sequence[GuardrailReading] = ()  # read now: an analysis was due
    # The last analysis's readings, on a tick with none due. They keep silence from ending a
    # step and hold the no-data clock; a breach in them was counted when it was read.
    carried: Sequence[GuardrailReading] = ()
    ab: AbResult | None = None
    rollback_requested: bool = False
    resume_requested: bool = False
    pause_requested: str | None = None  # the person's reason, while the pause stands
    promote_requested: bool = False
    # Why the candidate may not become production yet (a missing sign-off), if it may not.
    promotion_refused: str | None = None
    # Why the guardrails could not be read when an analysis was due (Prometheus down), if so.
    metrics_unavailable: str | None = None
    # Why the candidate ModelVersion is gone (deleted mid-rollout), if it is.
    candidate_gone: str | None = None
    # The PromotionPolicies governing the namespace: shadow and canary time before a gate step.
    policies: Sequence[NamedPolicy] = ()


@dataclass(frozen=True)
class Hold:
    """Nothing to change now; look again after `check_again_seconds`. `blind`: the guardrails
    could not be read, so whether the rollout progresses is not known."""

    reason: str
    message: str
    progress: Progress
    check_again_seconds: float = 10.0
    blind: bool = False


@dataclass(frozen=True)
class SetTraffic:
    traffic: Traffic
    reason: str
    message: str
    progress: Progress


@dataclass(frozen=True)
class Pause:
    reason: str
    message: str
    progress: Progress


@dataclass(frozen=True)
class RollBack:
    reason: str
    message: str
    progress: Progress
    traffic: Traffic = BASELINE_ONLY


@dataclass(frozen=True)
class Complete:
    """Finished without promoting (the last step was not `full`, or nothing was left to do)."""

    reason: str
    message: str
    progress: Progress


@dataclass(frozen=True)
class Promote:
    """The candidate becomes production: the router serves it alone, the registry says so. Only
    ever decided while the candidate may be promoted (`Observations.promotion_refused` is None)."""

    message: str
    progress: Progress
    reason: str = "Promoted"


Decision = Hold | SetTraffic | Pause | RollBack | Complete | Promote


def step_kind(step: Step) -> str:
    for kind in ("shadow", "canary", "ab_test", "pause", "full"):
        if getattr(step, kind) is not None:
            return kind
    raise ValueError("a step has exactly one kind")  # the API server guarantees it


def traffic_for(steps: Sequence[Step], index: int) -> Traffic:
    """The split step `index` runs with; a pause keeps the split of the step before it."""
    step = steps[index]
    kind = step_kind(step)
    if kind == "shadow":
        return Traffic(100, 0, True)
    if kind == "canary" and step.canary is not None:
        return Traffic(100 - step.canary.weight, step.canary.weight, False)
    if kind == "ab_test" and step.ab_test is not None:
        return Traffic(100 - step.ab_test.weight, step.ab_test.weight, False)
    if kind == "full":
        return Traffic(0, 100, False)
    return traffic_for(steps, index - 1) if index > 0 else BASELINE_ONLY


def requested(annotation: str | None, consumed: str | None) -> bool:
    """Whether a one-shot request (an annotation whose value is a timestamp) is new: each value
    acts once, so an annotation left in place does not act again at every tick."""
    return annotation is not None and annotation != consumed


def _enter(
    spec: RolloutSpec,
    index: int,
    progress: Progress,
    why: str,
    *,
    refused: str | None,
    reason: str = "StepStarted",
) -> Decision:
    """Move to step `index`; never to a split that gives the candidate all traffic while it may
    not be promoted (a `full` step, or a canary of weight 100): then pause where it is."""
    target = traffic_for(spec.steps, index)
    kind = step_kind(spec.steps[index])
    if refused is not None and target.candidate == 100:
        return Pause(
            PROMOTION_REFUSED,
            f"{refused} No traffic moves to step {index + 1}/{len(spec.steps)} ({kind}), which "
            "gives the candidate all traffic, until it may be promoted.",
            progress,
        )
    return SetTraffic(
        target,
        reason,
        f"{why}; step {index + 1}/{len(spec.steps)} ({kind}): baseline {target.baseline}%, "
        f"candidate {target.candidate}%{', shadow on' if target.shadow else ''}",
        Progress(step=index, breaches=progress.breaches),
    )


def decide(
    spec: RolloutSpec, progress: Progress, observed: Observations, now: dt.datetime
) -> Decision:
    """The next thing to do, with a reason and a message that has the numbers in it."""
    if progress.finished:
        return Hold("Finished", "The rollout has finished.", progress, check_again_seconds=300)
    if observed.rollback_requested:
        return RollBack("RollbackRequested", "Rolled back on request.", _settled(progress, True))
    if observed.candidate_gone is not None and progress.step is not None:
        # Nothing may guard a split whose candidate is gone: the baseline takes it all back.
        return RollBack("CandidateGone", observed.candidate_gone, _settled(progress, True))
    if (
        progress.step is not None
        and observed.promotion_refused is not None
        and traffic_for(spec.steps, progress.step).candidate == 100
    ):
        # The candidate lost its right to production once it had all traffic (a sign-off voided
        # by a retraining, a policy tightened): the traffic goes back first, blind or not.
        return _retreat(spec, progress.step, progress, observed.promotion_refused)
    if observed.metrics_unavailable is not None and progress.step is not None:
        # Blind: no step ends and nothing is promoted, and an outage is no evidence against the
        # candidate either, so no rollback. A person's rollback (above) still acts.
        return Hold(
            METRICS_UNAVAILABLE,
            f"{observed.metrics_unavailable}. Holding at step {progress.step + 1}/"
            f"{len(spec.steps)} with the split as it is until the guardrails can be read.",
            progress,
            check_again_seconds=METRICS_RETRY_SECONDS,
            blind=True,
        )
    breach = [g for g in observed.guardrails if g.state is GuardrailState.BREACH]
    if breach and progress.step is not None:
        breaches = progress.breaches + 1
        detail = "; ".join(g.message for g in breach)
        if breaches > spec.analysis.failure_limit:
            return RollBack(
                "GuardrailBreached",
                f"{detail} (breach {breaches} > failure limit {spec.analysis.failure_limit})",
                _settled(progress, True, breaches=breaches),
            )
        progress = Progress(
            progress.step, progress.step_started_at, breaches, progress.no_data_since
        )
    latest = observed.guardrails or observed.carried
    no_data = [g for g in latest if g.state is GuardrailState.NO_DATA]
    if no_data and progress.step is not None and progress.step_started_at is not None:
        since = progress.no_data_since or now
        progress = Progress(progress.step, progress.step_started_at, progress.breaches, since)
        if now - since >= parse_duration(spec.analysis.max_no_data):
            detail = "; ".join(g.message for g in no_data)
            match spec.analysis.on_no_data:
                case NoDataPolicy.ROLL_BACK:
                    return RollBack(
                        "NoData", f"No data for too long: {detail}", _settled(progress, True)
                    )
                case NoDataPolicy.PAUSE:
                    if not observed.resume_requested:
                        return Pause("NoData", f"No data for too long: {detail}", progress)
                case NoDataPolicy.WAIT:
                    pass
                case unreachable:
                    assert_never(unreachable)
    elif progress.no_data_since is not None:
        progress = Progress(progress.step, progress.step_started_at, progress.breaches, None)

    if observed.pause_requested is not None:
        why = f": {observed.pause_requested}" if observed.pause_requested else ""
        return Pause(
            "PausedByRequest", f"Paused by request{why}. Resume to go on, or roll back.", progress
        )
    if progress.step is None and observed.traffic == Traffic(0, 100, False):
        return Complete(
            "AlreadyServing",
            "The deployment already serves the candidate with all traffic: nothing to do.",
            _settled(progress, True),
        )
    at_full = progress.step is not None and progress.step == _full_step(spec)
    if observed.promote_requested and not at_full:
        red = [g for g in latest if g.state is GuardrailState.BREACH]
        return _promote(spec, progress, observed, objections=[*red, *no_data], now=now)
    if progress.step is None:
        return _enter(spec, 0, progress, "Rollout started", refused=observed.promotion_refused)
    index = progress.step
    target = traffic_for(spec.steps, index)
    if observed.traffic != target:
        return Hold(
            "WaitingForTraffic",
            f"Waiting for the router to show baseline {target.baseline}%, candidate "
            f"{target.candidate}% (it shows {_describe(observed.traffic)})",
            progress,
            check_again_seconds=2,
        )
    if progress.step_started_at is None:
        progress = Progress(index, now, progress.breaches, progress.no_data_since)
    started = progress.step_started_at or now
    step = spec.steps[index]
    kind = step_kind(step)
    last = index == len(spec.steps) - 1
    if no_data and kind != "full":
        # Only the next analysis can tell more (a person's request is seen at once anyway).
        return Hold(
            "NoData", "No data yet: " + "; ".join(g.message for g in no_data), progress,
            check_again_seconds=parse_duration(spec.analysis.interval).total_seconds(),
        )  # fmt: skip

    def advance(why: str) -> Decision:
        if last:
            return Complete("Completed", why, _settled(progress, True))
        if is_gate(spec.steps[index + 1]):
            short = evidence_shortfall(
                observed.policies, spec, at_step=index, started_at=started, now=now
            )
            if short:
                return Pause(POLICY_VIOLATED, "; ".join(short) + ".", progress)
        return _enter(spec, index + 1, progress, why, refused=observed.promotion_refused)

    if kind == "full":
        return Promote("The candidate takes all traffic.", _settled(progress, True))
    if kind in ("shadow", "canary"):
        held_for = parse_duration(
            step.shadow.duration if step.shadow else step.canary.duration if step.canary else "0s"
        )
        if now - started >= held_for:
            return advance(f"{kind} held for {held_for} with guardrails green")
        remaining = (started + held_for - now).total_seconds()
        return Hold("StepInProgress", f"{kind}: {remaining:.0f}s to go", progress,
                    check_again_seconds=min(max(remaining, 1.0), 30.0))  # fmt: skip
    if kind == "pause":
        duration = step.pause.duration if step.pause else None
        if observed.resume_requested or (
            duration is not None and now - started >= parse_duration(duration)
        ):
            return advance("pause ended")
        return Pause("PausedForJudgement", "Paused: resume to go on, or roll back.", progress)
    if kind == "ab_test" and step.ab_test is not None:
        ab = observed.ab
        if ab is None or ab.outcome is AbOutcome.UNDECIDED:
            message = ab.message if ab is not None else "waiting for A/B data"
            return Hold("Experimenting", message, progress, check_again_seconds=10)
        policy = step.ab_test.policy
        action = {
            AbOutcome.WIN: policy.win,
            AbOutcome.NO_DIFFERENCE: policy.no_difference,
            AbOutcome.LOSS: policy.loss,
        }[ab.outcome]
        match action:
            case OutcomeAction.PROMOTE:
                return advance(f"A/B {ab.message}")
            case OutcomeAction.ROLL_BACK:
                return RollBack(f"AbTest{ab.outcome.value[:1].upper()}{ab.outcome.value[1:]}",
                                f"A/B {ab.message}", _settled(progress, True))  # fmt: skip
            case OutcomeAction.PAUSE:
                if observed.resume_requested:
                    return advance(f"resumed after A/B {ab.message}")
                return Pause("AbTestNeedsJudgement", f"A/B {ab.message}", progress)
            case unexpected:
                assert_never(unexpected)
    raise ValueError(f"unknown step kind {kind}")


def _full_step(spec: RolloutSpec) -> int | None:
    """The full step's index, if there is one: the API server allows it only as the last step."""
    last = len(spec.steps) - 1
    return last if step_kind(spec.steps[last]) == "full" else None


def _promote(
    spec: RolloutSpec,
    progress: Progress,
    observed: Observations,
    *,
    objections: Sequence[GuardrailReading],
    now: dt.datetime,
) -> Decision:
    """Skip to the full step; the promotion itself stays the full step's, as without a request."""
    full = _full_step(spec)
    if full is None:
        return Hold(
            "PromoteNotPossible",
            f"Promote skips to a full step, and this rollout's last step is "
            f"{step_kind(spec.steps[-1])}: it goes on step by step.",
            progress,
        )
    if objections:
        detail = "; ".join(g.message for g in objections)
        return Hold("PromoteNotPossible", f"Promote refused: {detail}", progress)
    if observed.promotion_refused:
        return Pause(PROMOTION_REFUSED, f"Promote refused: {observed.promotion_refused}", progress)
    short = evidence_shortfall(
        observed.policies,
        spec,
        at_step=progress.step,
        started_at=progress.step_started_at or now,
        now=now,
    )
    if short:
        return Hold("PromoteNotPossible", f"Promote refused: {'; '.join(short)}.", progress)
    return _enter(
        spec, full, progress, "Promote requested", refused=None, reason="PromoteRequested"
    )


def _retreat(spec: RolloutSpec, index: int, progress: Progress, refused: str) -> Decision:
    """Back to the last step before `index` that leaves the baseline some traffic (or to the
    baseline alone, not started): that step is then held and judged again before going on."""
    earlier = [i for i in range(index) if traffic_for(spec.steps, i).candidate < 100]
    back = earlier[-1] if earlier else None
    traffic = traffic_for(spec.steps, back) if back is not None else BASELINE_ONLY
    where = f"step {back + 1}/{len(spec.steps)}" if back is not None else "the baseline alone"
    return SetTraffic(
        traffic,
        PROMOTION_REFUSED,
        f"{refused} The candidate had all traffic: back to {where} "
        f"(baseline {traffic.baseline}%, candidate {traffic.candidate}%).",
        Progress(step=back, breaches=progress.breaches),
    )


def judged_as_shadow(observed: Traffic | None) -> bool:
    """Whether the guardrails judge the shadow predictor's requests: while shadowing, the
    candidate's model answers only as the shadow."""
    return observed == Traffic(100, 0, True)


def _settled(progress: Progress, finished: bool, breaches: int | None = None) -> Progress:
    """The same position, marked finished (and with a new breach count, if given)."""
    return Progress(
        progress.step,
        progress.step_started_at,
        progress.breaches if breaches is None else breaches,
        progress.no_data_since,
        finished,
    )


def _describe(traffic: Traffic | None) -> str:
    if traffic is None:
        return "nothing"
    shadow = ", shadow on" if traffic.shadow else ""
    return f"baseline {traffic.baseline}%, candidate {traffic.candidate}%{shadow}"
