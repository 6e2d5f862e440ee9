"""The Rollout step engine: (spec, progress, observations, now) → one decision.

Pure: the controller observes traffic, guardrails and requests, and carries the decision out.
The step position lives in the progress (status), never inferred from traffic. A step counts as
started only once the observed traffic matches it. "No data" never promotes.

A decision is taken in three parts, in this order: safety (a rollback request, a candidate gone
or no longer promotable, blindness, breaches and lasting silence), a person's requests (pause,
promote), then the step itself. A person's requests rank below safety: a rollback request wins
over everything, and a guardrail breach or lasting "no data" still rolls back a paused rollout.
A pause holds the position and the split; the step's clock keeps running meanwhile, so a step
whose time is up goes on as soon as the pause is lifted. A promote skips the remaining steps to
the last, `full`, step, which promotes as ever: only with the sign-off, and never past a red or
silent guardrail. A promote acts once, when it arrives: refused, or during a pause, it is
dropped rather than left to surprise later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final, assert_never

from paved.api.meta import parse_duration
from paved.api.rollout import NoDataPolicy, OutcomeAction, RolloutSpec, Step
from paved.core.interleaving import InterleavingResult
from paved.core.promotion_policy import NamedPolicy, evidence_shortfall, is_gate
from paved.core.reasons import RolloutReason
from paved.core.statistics import AbOutcome, AbResult


@dataclass(frozen=True)
class Traffic:
    baseline: int
    candidate: int
    shadow: bool = False
    interleaved: bool = False  # ranking requests get both arms' rankings, team-draft merged


BASELINE_ONLY = Traffic(100, 0, False)
ALL_CANDIDATE = Traffic(0, 100, False)
METRICS_RETRY_SECONDS: Final = 5.0


class StepKind(StrEnum):
    """A step's kind, spelled as its key in the spec."""

    SHADOW = "shadow"
    CANARY = "canary"
    AB_TEST = "abTest"
    INTERLEAVE = "interleave"
    PAUSE = "pause"
    FULL = "full"


class GuardrailState(StrEnum):
    PASS = "pass"
    BREACH = "breach"
    NO_DATA = "noData"


@dataclass(frozen=True)
class GuardrailVerdict:
    """One guardrail's reading, judged: pass, breach or no data, with the numbers."""

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
    guardrails: Sequence[GuardrailVerdict] = ()  # read now: an analysis was due
    # The last analysis's verdicts, on a tick with none due. They keep silence from ending a
    # step and hold the no-data clock; a breach in them was counted when it was read.
    carried: Sequence[GuardrailVerdict] = ()
    ab: AbResult | None = None
    interleaving: InterleavingResult | None = None
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

    reason: RolloutReason
    message: str
    progress: Progress
    check_again_seconds: float = 10.0
    blind: bool = False


@dataclass(frozen=True)
class SetTraffic:
    traffic: Traffic
    reason: RolloutReason
    message: str
    progress: Progress


@dataclass(frozen=True)
class Pause:
    reason: RolloutReason
    message: str
    progress: Progress


@dataclass(frozen=True)
class RollBack:
    reason: RolloutReason
    message: str
    progress: Progress
    traffic: Traffic = BASELINE_ONLY


@dataclass(frozen=True)
class Complete:
    """Finished without promoting (the last step was not `full`, or nothing was left to do)."""

    reason: RolloutReason
    message: str
    progress: Progress


@dataclass(frozen=True)
class Promote:
    """The candidate becomes production: the router serves it alone, the registry says so. Only
    ever decided while the candidate may be promoted (`Observations.promotion_refused` is None)."""

    message: str
    progress: Progress
    reason: RolloutReason = RolloutReason.PROMOTED
    traffic: Traffic = ALL_CANDIDATE


Decision = Hold | SetTraffic | Pause | RollBack | Complete | Promote


def step_kind(step: Step) -> StepKind:
    """The one kind a step has (the API server guarantees exactly one)."""
    kinds = {
        StepKind.SHADOW: step.shadow,
        StepKind.CANARY: step.canary,
        StepKind.AB_TEST: step.ab_test,
        StepKind.INTERLEAVE: step.interleave,
        StepKind.PAUSE: step.pause,
        StepKind.FULL: step.full,
    }
    return next(kind for kind, body in kinds.items() if body is not None)


def _weight(step: Step) -> int:
    """The candidate's share of live traffic a canary, A/B or interleave step asks for."""
    weighted = step.canary or step.ab_test or step.interleave
    return weighted.weight if weighted is not None else 0


def traffic_for(steps: Sequence[Step], index: int) -> Traffic:
    """The split step `index` runs with; a pause keeps the split of the step before it."""
    match step_kind(steps[index]):
        case StepKind.SHADOW:
            return Traffic(100, 0, True)
        case StepKind.CANARY | StepKind.AB_TEST:
            weight = _weight(steps[index])
            return Traffic(100 - weight, weight, False)
        case StepKind.INTERLEAVE:
            weight = _weight(steps[index])
            return Traffic(100 - weight, weight, False, interleaved=True)
        case StepKind.FULL:
            return ALL_CANDIDATE
        case StepKind.PAUSE:
            return traffic_for(steps, index - 1) if index > 0 else BASELINE_ONLY
        case unreachable:
            assert_never(unreachable)


def requested(annotation: str | None, consumed: str | None) -> bool:
    """Whether a one-shot request (an annotation whose value is a timestamp) is new: each value
    acts once, so an annotation left in place does not act again at every tick."""
    return annotation is not None and annotation != consumed


def _enter(
    spec: RolloutSpec,
    index: int,
    progress: Progress,
    *,
    why: str,
    refused: str | None,
    reason: RolloutReason = RolloutReason.STEP_STARTED,
) -> Decision:
    """Move to step `index`; never to a split that gives the candidate all traffic while it may
    not be promoted (a `full` step, or a canary of weight 100): then pause where it is."""
    target = traffic_for(spec.steps, index)
    kind = step_kind(spec.steps[index])
    if refused is not None and target.candidate == 100:
        return Pause(
            RolloutReason.PROMOTION_REFUSED,
            f"{refused} No traffic moves to step {index + 1}/{len(spec.steps)} ({kind}), which "
            "gives the candidate all traffic, until it may be promoted.",
            progress,
        )
    return SetTraffic(
        target,
        reason,
        f"{why}; step {index + 1}/{len(spec.steps)} ({kind}): {_describe(target)}",
        Progress(step=index, breaches=progress.breaches),
    )


@dataclass(frozen=True)
class _Weighed:
    """Where the rollout stands once safety has had its say: the progress with this
    analysis's breaches and silence counted, the latest verdicts, and those with no data."""

    progress: Progress
    latest: Sequence[GuardrailVerdict]
    no_data: Sequence[GuardrailVerdict]


def decide(
    spec: RolloutSpec, progress: Progress, observed: Observations, *, now: dt.datetime
) -> Decision:
    """The next thing to do, with a reason and a message that has the numbers in it."""
    if progress.finished:
        return Hold(
            RolloutReason.FINISHED, "The rollout has finished.", progress, check_again_seconds=300
        )
    stop = _safety(spec, progress, observed)
    if stop is not None:
        return stop
    weighed = _weigh(spec, progress, observed, now=now)
    if not isinstance(weighed, _Weighed):
        return weighed
    return _requests(spec, weighed, observed, now=now) or _step(spec, weighed, observed, now=now)


def _safety(spec: RolloutSpec, progress: Progress, observed: Observations) -> Decision | None:
    """What overrides everything else: a person's rollback, a candidate gone or no longer
    promotable while it has all traffic, and blindness."""
    if observed.rollback_requested:
        return RollBack(
            RolloutReason.ROLLBACK_REQUESTED, "Rolled back on request.", _settled(progress)
        )
    if progress.step is None:
        return None
    if observed.candidate_gone is not None:
        # Nothing may guard a split whose candidate is gone: the baseline takes it all back.
        return RollBack(RolloutReason.CANDIDATE_GONE, observed.candidate_gone, _settled(progress))
    if (
        observed.promotion_refused is not None
        and traffic_for(spec.steps, progress.step).candidate == 100
    ):
        # The candidate lost its right to production once it had all traffic (a sign-off voided
        # by a retraining, a policy tightened): the traffic goes back first, blind or not.
        return _retreat(spec, progress.step, progress, refused=observed.promotion_refused)
    if observed.metrics_unavailable is not None:
        # Blind: no step ends and nothing is promoted, and an outage is no evidence against the
        # candidate either, so no rollback. A person's rollback (above) still acts.
        return Hold(
            RolloutReason.METRICS_UNAVAILABLE,
            f"{observed.metrics_unavailable}. Holding at step {progress.step + 1}/"
            f"{len(spec.steps)} with the split as it is until the guardrails can be read.",
            progress,
            check_again_seconds=METRICS_RETRY_SECONDS,
            blind=True,
        )
    return None


def _weigh(
    spec: RolloutSpec, progress: Progress, observed: Observations, *, now: dt.datetime
) -> Decision | _Weighed:
    """Count this analysis's breaches and the silence; roll back (or pause) when either has
    gone on too long."""
    breach = [g for g in observed.guardrails if g.state is GuardrailState.BREACH]
    if breach and progress.step is not None:
        breaches = progress.breaches + 1
        if breaches > spec.analysis.failure_limit:
            detail = "; ".join(g.message for g in breach)
            return RollBack(
                RolloutReason.GUARDRAIL_BREACHED,
                f"{detail} (breach {breaches} > failure limit {spec.analysis.failure_limit})",
                _settled(replace(progress, breaches=breaches)),
            )
        progress = replace(progress, breaches=breaches)
    latest = observed.guardrails or observed.carried
    no_data = [g for g in latest if g.state is GuardrailState.NO_DATA]
    if not (no_data and progress.step is not None and progress.step_started_at is not None):
        return _Weighed(replace(progress, no_data_since=None), latest, no_data)
    progress = replace(progress, no_data_since=progress.no_data_since or now)
    silent = _too_long_silent(spec, progress, observed, no_data=no_data, now=now)
    return silent or _Weighed(progress, latest, no_data)


def _too_long_silent(
    spec: RolloutSpec,
    progress: Progress,
    observed: Observations,
    *,
    no_data: Sequence[GuardrailVerdict],
    now: dt.datetime,
) -> Decision | None:
    """What `onNoData` says once "no data" has lasted `maxNoData`, if it has."""
    since = progress.no_data_since or now
    if now - since < parse_duration(spec.analysis.max_no_data):
        return None
    message = "No data for too long: " + "; ".join(g.message for g in no_data)
    match spec.analysis.on_no_data:
        case NoDataPolicy.ROLL_BACK:
            return RollBack(RolloutReason.NO_DATA, message, _settled(progress))
        case NoDataPolicy.PAUSE:
            if observed.resume_requested:
                return None
            return Pause(RolloutReason.NO_DATA, message, progress)
        case NoDataPolicy.WAIT:
            return None
        case unreachable:
            assert_never(unreachable)


def _requests(
    spec: RolloutSpec, weighed: _Weighed, observed: Observations, *, now: dt.datetime
) -> Decision | None:
    """A person's pause, and a promote that skips to the full step."""
    progress = weighed.progress
    if observed.pause_requested is not None:
        why = f": {observed.pause_requested}" if observed.pause_requested else ""
        return Pause(
            RolloutReason.PAUSED_BY_REQUEST,
            f"Paused by request{why}. Resume to go on, or roll back.",
            progress,
        )
    if progress.step is None and observed.traffic == ALL_CANDIDATE:
        return Complete(
            RolloutReason.ALREADY_SERVING,
            "The deployment already serves the candidate with all traffic: nothing to do.",
            _settled(progress),
        )
    at_full = progress.step is not None and progress.step == _full_step(spec)
    if not observed.promote_requested or at_full:
        return None
    red = [g for g in weighed.latest if g.state is GuardrailState.BREACH]
    return _promote(spec, progress, observed, objections=[*red, *weighed.no_data], now=now)


def _step(
    spec: RolloutSpec, weighed: _Weighed, observed: Observations, *, now: dt.datetime
) -> Decision:
    """The step's own course: start it, wait for the router, and end it when its time is up
    or its evidence is in."""
    progress = weighed.progress
    if progress.step is None:
        return _enter(spec, 0, progress, why="Rollout started", refused=observed.promotion_refused)
    index = progress.step
    target = traffic_for(spec.steps, index)
    if observed.traffic != target:
        return Hold(
            RolloutReason.WAITING_FOR_TRAFFIC,
            f"Waiting for the router to show {_describe(target)} (it shows "
            f"{_describe(observed.traffic)})",
            progress,
            check_again_seconds=2,
        )
    if progress.step_started_at is None:
        progress = replace(progress, step_started_at=now)
    kind = step_kind(spec.steps[index])
    if weighed.no_data and kind is not StepKind.FULL:
        # Only the next analysis can tell more (a person's request is seen at once anyway).
        return Hold(
            RolloutReason.NO_DATA,
            "No data yet: " + "; ".join(g.message for g in weighed.no_data),
            progress,
            check_again_seconds=parse_duration(spec.analysis.interval).total_seconds(),
        )
    return _in_step(spec, progress, observed, now=now)


def _in_step(
    spec: RolloutSpec, progress: Progress, observed: Observations, *, now: dt.datetime
) -> Decision:
    """A started step whose split the router shows, by its kind."""
    match step_kind(spec.steps[progress.step or 0]):
        case StepKind.FULL:
            return Promote("The candidate takes all traffic.", _settled(progress))
        case StepKind.SHADOW | StepKind.CANARY:
            return _timed(spec, progress, observed, now=now)
        case StepKind.PAUSE:
            return _paused(spec, progress, observed, now=now)
        case StepKind.AB_TEST | StepKind.INTERLEAVE:
            return _experimenting(spec, progress, observed, now=now)
        case unreachable:
            assert_never(unreachable)


def _timed(
    spec: RolloutSpec, progress: Progress, observed: Observations, *, now: dt.datetime
) -> Decision:
    """A shadow or canary step: held for its duration with the guardrails green."""
    step = spec.steps[progress.step or 0]
    kind = step_kind(step)
    timed = step.shadow or step.canary
    held_for = parse_duration(timed.duration if timed is not None else "0s")
    started = progress.step_started_at or now
    if now - started >= held_for:
        why = f"{kind} held for {held_for} with guardrails green"
        return _advance(spec, progress, observed, why=why, now=now)
    remaining = (started + held_for - now).total_seconds()
    return Hold(
        RolloutReason.STEP_IN_PROGRESS,
        f"{kind}: {remaining:.0f}s to go",
        progress,
        check_again_seconds=min(max(remaining, 1.0), 30.0),
    )


def _paused(
    spec: RolloutSpec, progress: Progress, observed: Observations, *, now: dt.datetime
) -> Decision:
    """A pause step: it ends on a resume, or when its duration (if any) is up."""
    step = spec.steps[progress.step or 0]
    duration = step.pause.duration if step.pause else None
    started = progress.step_started_at or now
    if observed.resume_requested or (
        duration is not None and now - started >= parse_duration(duration)
    ):
        return _advance(spec, progress, observed, why="pause ended", now=now)
    return Pause(
        RolloutReason.PAUSED_FOR_JUDGEMENT, "Paused: resume to go on, or roll back.", progress
    )


@dataclass(frozen=True)
class _Test:
    """How an experiment step's test is told: its name in messages, what it waits for, and the
    reasons its outcomes end in."""

    name: str
    waiting: str
    ended: Mapping[AbOutcome, RolloutReason]
    needs_judgement: RolloutReason


_AB_TEST: Final = _Test(
    "A/B",
    "waiting for A/B data",
    {
        AbOutcome.WIN: RolloutReason.AB_TEST_WIN,
        AbOutcome.NO_DIFFERENCE: RolloutReason.AB_TEST_NO_DIFFERENCE,
        AbOutcome.LOSS: RolloutReason.AB_TEST_LOSS,
    },
    RolloutReason.AB_TEST_NEEDS_JUDGEMENT,
)
_INTERLEAVING: Final = _Test(
    "interleaving",
    "waiting for interleaved queries",
    {
        AbOutcome.WIN: RolloutReason.INTERLEAVING_WIN,
        AbOutcome.NO_DIFFERENCE: RolloutReason.INTERLEAVING_NO_DIFFERENCE,
        AbOutcome.LOSS: RolloutReason.INTERLEAVING_LOSS,
    },
    RolloutReason.INTERLEAVING_NEEDS_JUDGEMENT,
)


def _experimenting(
    spec: RolloutSpec, progress: Progress, observed: Observations, *, now: dt.datetime
) -> Decision:
    """An A/B test or interleave step: it ends as its policy says for the outcome, once there
    is one (both tests' outcomes are an `AbOutcome`, their policies an `AbPolicy`)."""
    step = spec.steps[progress.step or 0]
    body = step.ab_test or step.interleave
    test, result = (
        (_AB_TEST, observed.ab) if step.ab_test else (_INTERLEAVING, observed.interleaving)
    )
    if body is None or result is None or result.outcome is AbOutcome.UNDECIDED:
        message = result.message if result is not None else test.waiting
        return Hold(RolloutReason.EXPERIMENTING, message, progress, check_again_seconds=10)
    said = f"{test.name} {result.message}"
    action = {
        AbOutcome.WIN: body.policy.win,
        AbOutcome.NO_DIFFERENCE: body.policy.no_difference,
        AbOutcome.LOSS: body.policy.loss,
    }[result.outcome]
    match action:
        case OutcomeAction.PROMOTE:
            return _advance(spec, progress, observed, why=said, now=now)
        case OutcomeAction.ROLL_BACK:
            return RollBack(test.ended[result.outcome], said, _settled(progress))
        case OutcomeAction.PAUSE:
            if observed.resume_requested:
                return _advance(spec, progress, observed, why=f"resumed after {said}", now=now)
            return Pause(test.needs_judgement, said, progress)
        case unexpected:
            assert_never(unexpected)


def _advance(
    spec: RolloutSpec, progress: Progress, observed: Observations, *, why: str, now: dt.datetime
) -> Decision:
    """On to the next step, unless this was the last; a gate step waits until the policies'
    shadow and canary time is spent."""
    index = progress.step or 0
    if index == len(spec.steps) - 1:
        return Complete(RolloutReason.COMPLETED, why, _settled(progress))
    if is_gate(spec.steps[index + 1]):
        started = progress.step_started_at or now
        short = evidence_shortfall(
            observed.policies, spec, at_step=index, started_at=started, now=now
        )
        if short:
            return Pause(RolloutReason.POLICY_VIOLATED, "; ".join(short) + ".", progress)
    return _enter(spec, index + 1, progress, why=why, refused=observed.promotion_refused)


def _full_step(spec: RolloutSpec) -> int | None:
    """The full step's index, if there is one: the API server allows it only as the last step."""
    last = len(spec.steps) - 1
    return last if step_kind(spec.steps[last]) is StepKind.FULL else None


def _promote(
    spec: RolloutSpec,
    progress: Progress,
    observed: Observations,
    *,
    objections: Sequence[GuardrailVerdict],
    now: dt.datetime,
) -> Decision:
    """Skip to the full step; the promotion itself stays the full step's, as without a request."""
    full = _full_step(spec)
    if full is None:
        return Hold(
            RolloutReason.PROMOTE_NOT_POSSIBLE,
            f"Promote skips to a full step, and this rollout's last step is "
            f"{step_kind(spec.steps[-1])}: it goes on step by step.",
            progress,
        )
    if objections:
        detail = "; ".join(g.message for g in objections)
        return Hold(RolloutReason.PROMOTE_NOT_POSSIBLE, f"Promote refused: {detail}", progress)
    if observed.promotion_refused:
        return Pause(
            RolloutReason.PROMOTION_REFUSED,
            f"Promote refused: {observed.promotion_refused}",
            progress,
        )
    short = evidence_shortfall(
        observed.policies,
        spec,
        at_step=progress.step,
        started_at=progress.step_started_at or now,
        now=now,
    )
    if short:
        message = f"Promote refused: {'; '.join(short)}."
        return Hold(RolloutReason.PROMOTE_NOT_POSSIBLE, message, progress)
    why = "Promote requested"
    return _enter(
        spec, full, progress, why=why, refused=None, reason=RolloutReason.PROMOTE_REQUESTED
    )


def _retreat(spec: RolloutSpec, index: int, progress: Progress, *, refused: str) -> Decision:
    """Back to the last step before `index` that leaves the baseline some traffic (or to the
    baseline alone, not started): that step is then held and judged again before going on."""
    earlier = [i for i in range(index) if traffic_for(spec.steps, i).candidate < 100]
    back = earlier[-1] if earlier else None
    traffic = traffic_for(spec.steps, back) if back is not None else BASELINE_ONLY
    where = f"step {back + 1}/{len(spec.steps)}" if back is not None else "the baseline alone"
    return SetTraffic(
        traffic,
        RolloutReason.PROMOTION_REFUSED,
        f"{refused} The candidate had all traffic: back to {where} "
        f"(baseline {traffic.baseline}%, candidate {traffic.candidate}%).",
        Progress(step=back, breaches=progress.breaches),
    )


def judged_as_shadow(observed: Traffic | None) -> bool:
    """Whether the guardrails judge the shadow predictor's requests: while shadowing, the
    candidate's model answers only as the shadow."""
    return observed == Traffic(100, 0, True)


def _settled(progress: Progress) -> Progress:
    """The same position, marked finished."""
    return replace(progress, finished=True)


def _describe(traffic: Traffic | None) -> str:
    if traffic is None:
        return "nothing"
    shadow = ", shadow on" if traffic.shadow else ""
    interleaved = ", rankings interleaved" if traffic.interleaved else ""
    return f"baseline {traffic.baseline}%, candidate {traffic.candidate}%{shadow}{interleaved}"
