"""Rollout: step traffic from baseline to candidate on evidence, roll back when a guardrail fires.

A timer drives it: each tick reads the candidate, the split and (every `analysis.interval`) the
guardrails, asks the core's `decide` what to do, does it through the router (and, to promote,
the registry), and writes the status the core builds from the decision. A person acts through
annotations (`core.rollout_ticks.Request`), written by `paved rollout rollback|pause|resume|
promote`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import partial
from typing import assert_never

from paved.api.crds import ROLLOUT
from paved.api.meta import parse_duration
from paved.api.model_version import ModelVersionStatus, RegistryEntry, Stage
from paved.api.rollout import (
    AbTestStep,
    BuiltinGuardrail,
    Guardrail,
    RolloutSpec,
    RolloutStatus,
    Target,
)
from paved.controllers._kopf import Reconciled, Resource, timer
from paved.controllers.acceptance import authors, check_references, governing_policies
from paved.controllers.rollout_memory import remember, revert
from paved.core.conditions import Observation
from paved.core.guardrails import Measurement, evaluate, name_of, score_drift
from paved.core.interleaving import (
    InterleavingResult,
    Preference,
    PreferenceDesign,
    Record,
    interleaving_test,
)
from paved.core.promotion_policy import NamedPolicy, promotion_refusal, rollout_violations
from paved.core.reverts import revert_due
from paved.core.rollout_admission import Claim, Facts, competitors, refusal
from paved.core.rollout_steps import (
    Complete,
    Decision,
    GuardrailVerdict,
    Hold,
    Pause,
    Promote,
    RollBack,
    SetTraffic,
    Traffic,
    decide,
    judged_as_shadow,
)
from paved.core.rollout_ticks import (
    FINISHED,
    PROGRESSING,
    TICK_SECONDS,
    Analysed,
    Requests,
    Tick,
    analysis_due,
    candidate_gone,
    condition_of,
    is_due,
    not_started,
    observations,
    progress_of,
    route_refused,
    served,
    standing_requests,
    status_after,
    waiting_for_candidate,
)
from paved.core.serving import Arm, ServedModel
from paved.core.statistics import AbResult, Design, Tally, ab_test, trial_count
from paved.errors import PermanentError, TransientError
from paved.observability import ANALYSIS_LAG_SECONDS, CANDIDATE_WEIGHT, ROLLBACKS
from paved.ports import Ports
from paved.ports.cluster import Found, ModelVersion, Unreadable
from paved.ports.traffic import TrafficRouter, Unroutable

RolloutResource = Resource[RolloutSpec, RolloutStatus]
Candidate = ModelVersion | Unreadable[ModelVersionStatus] | None


@dataclass(frozen=True)
class Serving:
    """Where the candidate is served: the router bound to the target, and the split it shows."""

    router: TrafficRouter
    model: ServedModel  # the candidate's: its storage URI and registry version
    traffic: Traffic | None  # None: the deployment is not there
    entry: RegistryEntry | None  # the candidate's registry entry; None once it is gone


@timer(ROLLOUT, interval=TICK_SECONDS)
async def progress_rollout(resource: RolloutResource, ports: Ports, now: dt.datetime) -> Reconciled:
    spec, status = resource.spec, resource.status
    requests = standing_requests(resource.annotations)
    if revert_due(status.phase, requests, status.reverted):
        return await revert(resource, ports, requests=requests, now=now)
    if not is_due(status, requests=requests, generation=resource.generation, now=now):
        return Reconciled([])
    accepted = await check_references(resource, ports)
    pending = not_started(status, requests=requests, now=now)
    if accepted.status != "True":
        return Reconciled([accepted], status=pending)
    candidate = await ports.cluster.model_version(resource.namespace, spec.candidate)
    entry = _registered(candidate)
    if entry is None and status.current_step is None:
        return Reconciled([accepted, waiting_for_candidate(spec.candidate)], status=pending)
    serving = await _serving(resource, ports, entry)
    if isinstance(serving, Unroutable):
        return _unroutable(serving, accepted, status=status, requests=requests, now=now)
    policies = await governing_policies(resource.namespace, ports)
    if status.current_step is None:
        refused = await _refusal(resource, ports, candidate, serving, policies=policies)
        if refused is not None:
            held = not_started(status, requests=requests, now=now, message=refused.message)
            return Reconciled([accepted, refused], status=held)
    tick = Tick(
        serving.traffic,
        requests,
        serving.model.uri,
        await _analyse(resource, ports, serving, now=now),
        promotion_refused=_promotion_refused(spec.candidate, candidate, policies),
        candidate_gone=candidate_gone(spec.candidate) if entry is None else None,
        policies=policies,
    )
    decision = decide(spec, progress_of(status), observations(status, tick), now=now)
    acted = await _act(decision, resource, ports, serving=serving, tick=tick, now=now)
    return Reconciled([accepted, *acted.observed], status=acted.status)


async def _serving(
    rollout: RolloutResource, ports: Ports, entry: RegistryEntry | None
) -> Serving | Unroutable:
    # A candidate deleted mid-rollout: its model is the one the router serves as candidate.
    model = (
        ServedModel(entry.uri, entry.name, entry.version)
        if entry is not None and entry.uri
        else ServedModel(rollout.status.candidate_model or "")
    )
    router = await ports.routers.router_for(rollout.namespace, rollout.spec.target)
    if isinstance(router, Unroutable):
        return router
    return Serving(router, model, await router.observe(model.uri), entry)


def _unroutable(
    why: Unroutable,
    accepted: Observation,
    *,
    status: RolloutStatus,
    requests: Requests,
    now: dt.datetime,
) -> Reconciled:
    """No router for the target's backend (unknown, or its CRD not served): said on the
    Rollout, looked at again in a while; nothing moves."""
    stopped = Observation(PROGRESSING, "False", why.reason, why.message)
    if status.current_step is None:
        held = not_started(status, requests=requests, now=now, message=why.message)
    else:
        held = status.model_copy(update={"message": why.message})
    return Reconciled([accepted, stopped], status=held)


async def _act(
    decision: Decision,
    rollout: RolloutResource,
    ports: Ports,
    *,
    serving: Serving,
    tick: Tick,
    now: dt.datetime,
) -> Reconciled:
    """Carry the decision out, then write what it leaves."""
    refused = await _carry_out(decision, serving, ports)
    if refused is not None:
        stopped = rollout.status.model_copy(update={"message": refused})
        return Reconciled([route_refused(refused)], status=stopped)
    if isinstance(decision, RollBack):
        ROLLBACKS.labels(rollout.namespace, rollout.name, decision.reason).inc()
    traffic = served(decision, serving.traffic)
    if traffic is not None:
        CANDIDATE_WEIGHT.labels(rollout.namespace, rollout.name).set(traffic.candidate)
    after = status_after(rollout.spec, rollout.status, decision, tick=tick, now=now)
    await remember(decision, rollout, ports, entry=serving.entry, after=after, now=now)
    return Reconciled([condition_of(decision)], status=after)


async def _carry_out(decision: Decision, serving: Serving, ports: Ports) -> str | None:
    """The one place traffic moves. Returns why the router refused a split, if it did (the
    deployment changed under the rollout: deleted, its baseline renamed)."""
    match decision:
        case SetTraffic() | RollBack():
            try:
                await serving.router.apply(decision.traffic, serving.model)
            except PermanentError as error:
                return str(error)
        case Promote():
            # The router first, the registry second: repeated after a crash, the promotion
            # finds the router's part done (traffic is read by model) and finishes.
            await serving.router.promote(serving.model)
            entry = serving.entry
            if entry is None:
                raise PermanentError("the candidate has no registry entry to promote")
            # The name the candidate was registered under: its namespace's model.
            await ports.registry.set_stage(entry.name, entry.version, Stage.PRODUCTION)
        case Hold() | Pause() | Complete():
            pass
        case unreachable:
            assert_never(unreachable)
    return None


def _registered(candidate: Candidate) -> RegistryEntry | None:
    """The candidate's registry entry, once it has a model to serve."""
    if candidate is None or candidate.status is None:
        return None
    entry = candidate.status.registry
    return entry if entry is not None and entry.uri else None


def _promotion_refused(
    name: str, candidate: Candidate, policies: tuple[NamedPolicy, ...]
) -> str | None:
    """Why the candidate may not become production now, if it may not."""
    match candidate:
        case None:
            return f"ModelVersion {name} does not exist."
        case Unreadable(problem=problem):
            # What cannot be read cannot be judged promotable: refused, with why.
            return f"ModelVersion {name} cannot be read: {problem}."
        case Found():
            who = authors(candidate.annotations)
            return promotion_refusal(
                name, candidate.spec, candidate.status, authors=who, policies=policies
            )
        case unreachable:
            assert_never(unreachable)


async def _refusal(
    rollout: RolloutResource,
    ports: Ports,
    candidate: Candidate,
    serving: Serving,
    *,
    policies: tuple[NamedPolicy, ...],
) -> Observation | None:
    """Why the Rollout may not start, before any traffic moves, if it may not."""
    router = serving.router
    phase = candidate.status.phase if candidate is not None and candidate.status else None
    refused = refusal(
        Facts(
            rollout.spec.candidate,
            phase,
            router.described,
            router.backend,
            router.capabilities,
            rollout.spec.steps,
            serving.traffic,
            await _competing(rollout, ports),
            await _invalid_queries(rollout.spec, ports),
            rollout_violations(policies, rollout.spec),
        )
    )
    if refused is None:
        return None
    return Observation(PROGRESSING, "False", refused.reason, refused.message)


async def _competing(rollout: RolloutResource, ports: Ports) -> list[str]:
    mine = Claim(rollout.name, rollout.created, _claimed(rollout.spec.target), False, False)
    claims = [
        Claim(
            other.name,
            other.created,
            _claimed(other.spec.target),
            other.status.current_step is not None,
            other.status.phase in FINISHED,
        )
        for other in await ports.cluster.rollouts(rollout.namespace)
        # One this operator cannot read names no target it could claim.
        if isinstance(other, Found)
    ]
    return competitors(mine, claims)


def _claimed(target: Target) -> str:
    """The object a Rollout claims, as `Claim.target` names it: backend and name."""
    return f"{target.backend}/{target.name}"


async def _invalid_queries(spec: RolloutSpec, ports: Ports) -> list[str]:
    """Custom guardrail queries Prometheus refuses, found before any traffic moves."""
    invalid = []
    for rule in spec.guardrails:
        if rule.query is not None:
            try:
                await ports.metrics.value(rule.query)
            except PermanentError as error:
                invalid.append(f"{name_of(rule)}: {error}")
    return invalid


async def _analyse(
    rollout: RolloutResource, ports: Ports, serving: Serving, *, now: dt.datetime
) -> Analysed:
    """The guardrails and the A/B or interleaving counts, when an analysis is due; nothing read
    counts unless everything is: a half-done analysis is evidence neither way."""
    spec, status = rollout.spec, rollout.status
    if not analysis_due(spec, status, now=now):
        return Analysed()
    router = serving.router
    arm = Arm.SHADOW if judged_as_shadow(serving.traffic) else Arm.CANDIDATE
    try:
        verdicts = [await _verdict(rule, spec, router, arm, ports) for rule in spec.guardrails]
        experiment = await _experiment_now(rollout, router, ports, now=now)
        interleaving = await _interleaving_now(rollout, router, ports, now=now)
    except TransientError as error:
        return Analysed(unavailable=str(error))
    if status.last_analysis_at is not None:
        late = now - status.last_analysis_at - parse_duration(spec.analysis.interval)
        ANALYSIS_LAG_SECONDS.observe(max(late.total_seconds(), 0.0))
    return Analysed(verdicts, experiment, interleaving, done=True)


async def _verdict(
    rule: Guardrail, spec: RolloutSpec, router: TrafficRouter, arm: Arm, ports: Ports
) -> GuardrailVerdict:
    window = spec.analysis.window
    if rule.builtin is None:
        value = await ports.metrics.value(rule.query or "")
        return evaluate(rule, Measurement(value, None), spec.analysis.min_samples)
    queries = partial(router.guardrail_queries, rule.builtin, window=window)
    if rule.builtin is BuiltinGuardrail.SCORE_DRIFT:
        drift, samples = score_drift(
            await ports.metrics.vector((await queries(Arm.BASELINE)).value, "le"),
            await ports.metrics.vector((await queries(arm)).value, "le"),
        )
        return evaluate(rule, Measurement(drift, samples), spec.analysis.min_samples)
    candidate = await queries(arm)
    baseline = None
    if rule.vs_baseline is not None:
        baseline = await ports.metrics.value((await queries(Arm.BASELINE)).value)
    measured = Measurement(
        await ports.metrics.value(candidate.value),
        await ports.metrics.value(candidate.samples),
        baseline,
    )
    return evaluate(rule, measured, spec.analysis.min_samples)


async def _experiment_now(
    rollout: RolloutResource, router: TrafficRouter, ports: Ports, *, now: dt.datetime
) -> AbResult | None:
    """The A/B test on the business metric's counts since the step started, per arm, when the
    step is one."""
    status = rollout.status
    step = rollout.spec.steps[status.current_step or 0].ab_test
    if step is None or status.step_started_at is None:
        return None
    return await _experiment(step, router, status.step_started_at, ports, now=now)


async def _experiment(
    step: AbTestStep, router: TrafficRouter, started: dt.datetime, ports: Ports, *, now: dt.datetime
) -> AbResult:
    seconds = int((now - started).total_seconds())

    async def tally(arm: Arm) -> Tally:
        successes = await router.counter_increase(step.metric, arm, seconds)
        trials = await router.counter_increase(step.trials, arm, seconds)
        # NaN, ±Inf: no trials
        return Tally(
            trial_count(await ports.metrics.value(successes)),
            trial_count(await ports.metrics.value(trials)),
        )

    return ab_test(
        await tally(Arm.BASELINE),
        await tally(Arm.CANDIDATE),
        Design(step.minimum_detectable_effect, step.alpha, step.power),
        horizon_reached=now - started >= parse_duration(step.max_duration),
    )


async def _interleaving_now(
    rollout: RolloutResource, router: TrafficRouter, ports: Ports, *, now: dt.datetime
) -> InterleavingResult | None:
    """The interleaving test on the candidate's wins, losses and ties since the step started,
    when the step is an interleave step."""
    status = rollout.status
    step = rollout.spec.steps[status.current_step or 0].interleave
    if step is None or status.step_started_at is None:
        return None
    seconds = int((now - status.step_started_at).total_seconds())

    async def count(preference: Preference) -> int:
        query = await router.interleaved_queries(preference, seconds)
        return trial_count(await ports.metrics.value(query))

    record = Record(
        await count(Preference.WIN), await count(Preference.LOSS), await count(Preference.TIE)
    )
    design = PreferenceDesign(step.minimum_detectable_preference, step.alpha, step.power)
    horizon = now - status.step_started_at >= parse_duration(step.max_duration)
    return interleaving_test(record, design, horizon_reached=horizon)
