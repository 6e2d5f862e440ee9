"""One tick of a Rollout's timer, around the step engine: whether to look at all, what the
status remembers as observations, and what the decision makes of the status.

Pure. The controller reads (the candidate, the split, the guardrails when an analysis is due),
hands what it read here as a `Tick`, carries out the decision through the router and the
registry, and writes the status these functions build. Cadence lives here too: the timer ticks
every second, a tick before the last decision asked to look again costs nothing (unless a
person acted or the spec changed), and analyses land within half a tick of their time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Final, assert_never

from paved.api.meta import parse_duration
from paved.api.rollout import (
    Experiment,
    GuardrailResult,
    Interleaving,
    RolloutPhase,
    RolloutSpec,
    RolloutStatus,
    TrafficSplit,
)
from paved.core.conditions import ConditionStatus, Observation
from paved.core.interleaving import InterleavingResult
from paved.core.promotion_policy import NamedPolicy
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
    requested,
    step_kind,
)
from paved.core.statistics import AbResult

PROGRESSING: Final = "Progressing"
TICK_SECONDS: Final = 1.0
PENDING_RECHECK_SECONDS: Final = 5.0
FINISHED: Final = frozenset({RolloutPhase.SUCCEEDED, RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED})


class Request(StrEnum):
    """The annotations a person acts through (`paved rollout rollback|pause|resume|promote`):
    annotations, not spec changes, so a GitOps tool sees no drift."""

    ROLLBACK = "paved.dev/rollback"
    RESUME = "paved.dev/resume"
    PAUSE = "paved.dev/pause"
    PROMOTE = "paved.dev/promote"
    # On a Rollout that promoted its candidate: put back the version it replaced (`paved
    # model revert`); its value is the person's reason and a timestamp, acted on once.
    REVERT = "paved.dev/revert"


@dataclass(frozen=True)
class Requests:
    """A person's standing requests. A resume or a promote is one request: its annotation's
    value (a timestamp) is consumed once."""

    rollback: bool = False
    pause: str | None = None  # the reason given, while the pause stands
    resume: str | None = None
    promote: str | None = None
    revert: str | None = None
    seen: str = "{}"  # all of them, as one comparable value


def standing_requests(annotations: Mapping[str, str]) -> Requests:
    mine = {key: value for key, value in sorted(annotations.items()) if key in set(Request)}
    return Requests(
        rollback=Request.ROLLBACK in mine,
        pause=mine.get(Request.PAUSE),
        resume=mine.get(Request.RESUME),
        promote=mine.get(Request.PROMOTE),
        revert=mine.get(Request.REVERT),
        seen=json.dumps(mine),
    )


def is_due(status: RolloutStatus, *, requests: Requests, generation: int, now: dt.datetime) -> bool:
    """Whether this tick decides anything: never once finished (how it ended stays as it was
    written), and before the time the last decision asked for only when a person acted or the
    spec changed meanwhile."""
    if status.phase in FINISHED:
        return False
    return (
        status.next_check_at is None
        or now >= status.next_check_at
        or requests.seen != status.requests_seen
        or status.observed_generation != generation
    )


def analysis_due(spec: RolloutSpec, status: RolloutStatus, *, now: dt.datetime) -> bool:
    """Whether the guardrails are read this tick: a step has started and the interval is up,
    within half a tick (on a 1 s tick analyses land within half a second either side of their
    time instead of up to a whole tick late)."""
    if status.current_step is None:
        return False
    if status.last_analysis_at is None:
        return True
    interval = parse_duration(spec.analysis.interval)
    return now - status.last_analysis_at >= interval - dt.timedelta(seconds=TICK_SECONDS / 2)


def not_started(
    status: RolloutStatus, *, requests: Requests, now: dt.datetime, message: str | None = None
) -> RolloutStatus:
    """Not started, and why is in the conditions: look again in a few seconds, or when asked."""
    return status.model_copy(
        update={
            "phase": RolloutPhase.PENDING,
            "requests_seen": requests.seen,
            "next_check_at": now + dt.timedelta(seconds=PENDING_RECHECK_SECONDS),
            "message": message if message is not None else status.message,
        }
    )


def waiting_for_candidate(candidate: str) -> Observation:
    message = f"ModelVersion {candidate} is not registered yet."
    return Observation(PROGRESSING, "Unknown", RolloutReason.WAITING_FOR_CANDIDATE, message)


def candidate_gone(candidate: str) -> str:
    return (
        f"ModelVersion {candidate} is gone (deleted mid-rollout, or its registry entry cleared "
        "by a retraining): the baseline takes all traffic back."
    )


@dataclass(frozen=True)
class Analysed:
    """What this tick's analysis read; nothing when none was due."""

    verdicts: Sequence[GuardrailVerdict] = ()
    experiment: AbResult | None = None
    interleaving: InterleavingResult | None = None
    unavailable: str | None = None  # why nothing could be read (a half-read analysis is none)
    # Every guardrail read (there may be none), and the A/B or interleaving counts if any.
    done: bool = False


@dataclass(frozen=True)
class Tick:
    """What the controller read this tick, for the step engine."""

    traffic: Traffic | None
    requests: Requests
    candidate_model: str
    analysed: Analysed = Analysed()
    promotion_refused: str | None = None
    candidate_gone: str | None = None
    policies: Sequence[NamedPolicy] = ()


def progress_of(status: RolloutStatus) -> Progress:
    return Progress(
        status.current_step, status.step_started_at, status.breaches, status.no_data_since
    )


def observations(status: RolloutStatus, tick: Tick) -> Observations:
    analysed = tick.analysed
    carried = [_carried(record) for record in status.analysis]
    return Observations(
        tick.traffic,
        analysed.verdicts,
        carried=[] if analysed.verdicts or analysed.unavailable else carried,
        metrics_unavailable=analysed.unavailable,
        ab=analysed.experiment,
        interleaving=analysed.interleaving,
        rollback_requested=tick.requests.rollback,
        resume_requested=requested(tick.requests.resume, status.resumed),
        pause_requested=tick.requests.pause,
        promote_requested=requested(tick.requests.promote, status.promoted),
        promotion_refused=tick.promotion_refused,
        candidate_gone=tick.candidate_gone,
        policies=tick.policies,
    )


def _carried(record: GuardrailResult) -> GuardrailVerdict:
    state = GuardrailState(record.verdict)
    return GuardrailVerdict(record.guardrail, state, record.message, record.value, record.threshold)


def phase_of(decision: Decision) -> RolloutPhase:
    match decision:
        case RollBack():
            return RolloutPhase.ROLLED_BACK
        case Complete() | Promote():
            return RolloutPhase.SUCCEEDED
        case Pause():
            return RolloutPhase.PAUSED
        case Hold() | SetTraffic():
            return RolloutPhase.PROGRESSING
        case unreachable:
            assert_never(unreachable)


def condition_of(decision: Decision) -> Observation:
    """The Progressing condition: False once finished, Unknown when blind (whether the rollout
    progresses is not known, as Kubernetes means it), True otherwise."""
    status: ConditionStatus = "True"
    if isinstance(decision, Hold) and decision.blind:
        status = "Unknown"
    elif phase_of(decision) in FINISHED:
        status = "False"
    return Observation(PROGRESSING, status, decision.reason, decision.message)


def route_refused(message: str) -> Observation:
    """The deployment changed under the rollout (deleted, its baseline renamed)."""
    return Observation(PROGRESSING, "False", RolloutReason.ROUTE_REFUSED, message)


def served(decision: Decision, observed: Traffic | None) -> Traffic | None:
    """The split once the decision is carried out."""
    match decision:
        case SetTraffic() | RollBack() | Promote():
            return decision.traffic
        case Hold() | Pause() | Complete():
            return observed
        case unreachable:
            assert_never(unreachable)


def next_check_at(
    spec: RolloutSpec,
    decision: Decision,
    *,
    last_analysis_at: dt.datetime | None,
    now: dt.datetime,
) -> dt.datetime:
    """Look again when the decision asks to, and no later than the next analysis is due."""
    blind = isinstance(decision, Hold) and decision.blind
    wait = decision.check_again_seconds if isinstance(decision, Hold) else 1.0
    if decision.progress.step is not None and not blind:
        analysed = last_analysis_at or now
        due_in = (analysed + parse_duration(spec.analysis.interval) - now).total_seconds()
        wait = min(wait, max(due_in - TICK_SECONDS / 2, 0.0))
    return now + dt.timedelta(seconds=wait)


def status_after(
    spec: RolloutSpec,
    status: RolloutStatus,
    decision: Decision,
    *,
    tick: Tick,
    now: dt.datetime,
) -> RolloutStatus:
    """The status a carried-out decision leaves: where the rollout stands, what was read."""
    analysed = tick.analysed
    last_analysis_at = now if analysed.done else status.last_analysis_at
    position = decision.progress.step
    traffic = served(decision, tick.traffic)
    return RolloutStatus(
        conditions=status.conditions,
        observed_generation=status.observed_generation,
        phase=phase_of(decision),
        current_step=position,
        current_step_kind=step_kind(spec.steps[position]) if position is not None else None,
        step_started_at=decision.progress.step_started_at,
        traffic=_split(traffic) if traffic is not None else None,
        analysis=_results(analysed.verdicts, now) if analysed.done else status.analysis,
        experiment=_experiment(analysed.experiment, now) or status.experiment,
        interleaving=_interleaving(analysed.interleaving, now) or status.interleaving,
        last_analysis_at=last_analysis_at,
        breaches=decision.progress.breaches,
        no_data_since=decision.progress.no_data_since,
        candidate_model=tick.candidate_model,
        resumed=tick.requests.resume,
        promoted=tick.requests.promote,
        next_check_at=next_check_at(spec, decision, last_analysis_at=last_analysis_at, now=now),
        requests_seen=tick.requests.seen,
        message=decision.message,
    )


def _split(traffic: Traffic) -> TrafficSplit:
    return TrafficSplit(
        baseline=traffic.baseline,
        candidate=traffic.candidate,
        shadow=traffic.shadow,
        # Said only while on: the split as it read before interleave steps existed otherwise.
        interleaved=traffic.interleaved or None,
    )


def _results(verdicts: Sequence[GuardrailVerdict], now: dt.datetime) -> list[GuardrailResult]:
    return [
        GuardrailResult(
            guardrail=v.guardrail,
            verdict=v.state.value,
            at=now,
            message=v.message,
            value=v.value,
            threshold=v.threshold,
        )
        for v in verdicts
    ]


def _experiment(result: AbResult | None, now: dt.datetime) -> Experiment | None:
    if result is None:
        return None
    return Experiment(
        outcome=result.outcome.value,
        effect=result.effect,
        low=result.low,
        high=result.high,
        p_value=result.p_value,
        samples_baseline=result.samples_baseline,
        samples_candidate=result.samples_candidate,
        required_per_arm=result.required_per_arm,
        at=now,
    )


def _interleaving(result: InterleavingResult | None, now: dt.datetime) -> Interleaving | None:
    if result is None:
        return None
    measured = ("win_rate", "low", "high", "p_value", "required_queries")
    return Interleaving.model_validate(
        {
            "outcome": result.outcome.value,
            "at": now,
            **asdict(result.record),
            **{name: getattr(result, name) for name in measured},
        }
    )
