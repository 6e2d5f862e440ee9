"""Rollout: step traffic from baseline to candidate on evidence, roll back when a guardrail fires.

A timer drives it: each tick observes the split and (every `analysis.interval`) the guardrails,
asks the core's `decide` what to do, does it through the router, and writes what happened.
A person acts through annotations, written by `paved rollout rollback|pause|resume|promote`:
annotations, not spec changes, so a GitOps tool sees no drift.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from functools import partial
from typing import Any, Final

from pydantic import ValidationError

from paved.api.crds import ROLLOUT
from paved.api.meta import parse_duration
from paved.api.model_version import ModelVersionSpec, ModelVersionStatus, Stage
from paved.api.rollout import (
    AbTestStep,
    BuiltinGuardrail,
    Experiment,
    Guardrail,
    Phase,
    RolloutSpec,
    RolloutStatus,
    Target,
    TrafficSplit,
)
from paved.api.rollout import GuardrailReading as ReadingRecord
from paved.controllers._kopf import Reconciled, Resource, timer
from paved.controllers.acceptance import authors, check_references, governing_policies
from paved.core.conditions import Observation
from paved.core.guardrails import Reading, evaluate, name_of, score_drift
from paved.core.promotion_policy import NamedPolicy, promotion_refusal, rollout_violations
from paved.core.rollout_admission import Claim, Facts, competitors, refusal
from paved.core.rollout_steps import (
    Complete,
    GuardrailReading,
    GuardrailState,
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
    step_kind,
)
from paved.core.serving import Arm
from paved.core.statistics import AbResult, ab_test, trial_count
from paved.errors import PermanentError, TransientError
from paved.observability import ANALYSIS_LAG_SECONDS, CANDIDATE_WEIGHT, ROLLBACKS
from paved.ports import Ports
from paved.ports.traffic import TrafficRouter, Unroutable

ROLLBACK_ANNOTATION: Final = "paved.dev/rollback"
RESUME_ANNOTATION: Final = "paved.dev/resume"
PAUSE_ANNOTATION: Final = "paved.dev/pause"
PROMOTE_ANNOTATION: Final = "paved.dev/promote"
PROGRESSING: Final = "Progressing"
PENDING_RECHECK_SECONDS: Final = 5.0
ROLLOUT_TICK_SECONDS: Final = 1.0
_FINISHED = {Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED}
_REQUESTS = (ROLLBACK_ANNOTATION, RESUME_ANNOTATION, PAUSE_ANNOTATION, PROMOTE_ANNOTATION)


async def _reading(
    rule: Guardrail, spec: RolloutSpec, router: TrafficRouter, arm: Arm, ports: Ports
) -> GuardrailReading:
    window = spec.analysis.window
    if rule.builtin is None:
        value = await ports.metrics.value(rule.query or "")
        return evaluate(rule, Reading(value, None), spec.analysis.min_samples)
    queries = partial(router.guardrail_queries, rule.builtin, window=window)
    if rule.builtin is BuiltinGuardrail.SCORE_DRIFT:
        drift, samples = score_drift(
            await ports.metrics.vector((await queries(Arm.BASELINE)).value, "le"),
            await ports.metrics.vector((await queries(arm)).value, "le"),
        )
        return evaluate(rule, Reading(drift, samples), spec.analysis.min_samples)
    candidate = await queries(arm)
    baseline = None
    if rule.vs_baseline is not None:
        baseline = await ports.metrics.value((await queries(Arm.BASELINE)).value)
    reading = Reading(
        await ports.metrics.value(candidate.value),
        await ports.metrics.value(candidate.samples),
        baseline,
    )
    return evaluate(rule, reading, spec.analysis.min_samples)


async def _experiment(
    step: AbTestStep, router: TrafficRouter, started: dt.datetime, now: dt.datetime, ports: Ports
) -> AbResult:
    """The A/B test on the business metric's counts since the step started, per arm."""
    seconds = int((now - started).total_seconds())

    async def count(metric: str, arm: Arm) -> int:
        query = await router.counter_increase(metric, arm, seconds)
        return trial_count(await ports.metrics.value(query))  # NaN, ±Inf: no trials

    successes_b, trials_b = (
        await count(step.metric, Arm.BASELINE),
        await count(step.trials, Arm.BASELINE),
    )
    successes_c, trials_c = (
        await count(step.metric, Arm.CANDIDATE),
        await count(step.trials, Arm.CANDIDATE),
    )
    return ab_test(
        successes_b, trials_b, successes_c, trials_c,
        step.minimum_detectable_effect, step.alpha, step.power,
        horizon_reached=now - started >= parse_duration(step.max_duration),
    )  # fmt: skip


def _claimed(target: Mapping[str, Any]) -> str:
    """The object a Rollout's raw `spec.target` claims, as `Claim.target` names it."""
    try:
        parsed = Target.model_validate(target)
    except ValidationError:
        return ""  # the API server admits no such target; it claims nothing
    return f"{parsed.backend}/{parsed.name}"


async def _competing(resource: Resource, ports: Ports) -> list[str]:
    spec: RolloutSpec = resource.spec
    target = f"{spec.target.backend}/{spec.target.name}"
    mine = Claim(resource.name, resource.created, target, False, False)
    claims = [
        Claim(
            str(other["metadata"]["name"]),
            str(other["metadata"].get("creationTimestamp", "")),
            _claimed((other.get("spec") or {}).get("target") or {}),
            (other.get("status") or {}).get("currentStep") is not None,
            (other.get("status") or {}).get("phase") in _FINISHED,
        )
        for other in await ports.cluster.list_paved("Rollout", resource.namespace)
    ]
    return competitors(mine, claims)


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


def _pending(now: dt.datetime, requests: str) -> dict[str, Any]:
    """Not started, and why is in the conditions: look again in a few seconds, or when asked."""
    return {"phase": Phase.PENDING, "requests_seen": requests,
            "next_check_at": now + dt.timedelta(seconds=PENDING_RECHECK_SECONDS)}  # fmt: skip


def _unroutable(
    why: Unroutable,
    accepted: Observation,
    *,
    status: RolloutStatus,
    now: dt.datetime,
    requests: str,
) -> Reconciled:
    """No router for the target's backend: said on the Rollout, looked at again in a while."""
    stopped = Observation(PROGRESSING, "False", why.reason, why.message)
    updates = _pending(now, requests) if status.current_step is None else {}
    return Reconciled([accepted, stopped], status_updates=updates | {"message": why.message})


def _requests(annotations: Mapping[str, str]) -> str:
    """A person's standing requests (rollback, pause, resume, promote), as one comparable value."""
    return json.dumps({k: v for k, v in sorted(annotations.items()) if k in _REQUESTS})


def _carried(record: ReadingRecord) -> GuardrailReading:
    return GuardrailReading(
        record.guardrail, GuardrailState(record.verdict), record.message, record.value,
        record.threshold,
    )  # fmt: skip


def _promotion_refused(
    name: str, model_version: dict[str, Any] | None, policies: tuple[NamedPolicy, ...]
) -> str | None:
    """Why the candidate may not become production now, if it may not."""
    if model_version is None:
        return f"ModelVersion {name} does not exist."
    try:
        spec = ModelVersionSpec.model_validate(model_version.get("spec") or {})
        status = ModelVersionStatus.model_validate(model_version.get("status") or {})
    except ValidationError as error:
        # What cannot be read cannot be judged promotable: refused, with why.
        return f"ModelVersion {name} cannot be read: {error.error_count()} invalid fields."
    annotations = (model_version.get("metadata") or {}).get("annotations") or {}
    return promotion_refusal(name, spec, status, authors=authors(annotations), policies=policies)


@timer(ROLLOUT, interval=ROLLOUT_TICK_SECONDS)
async def progress_rollout(resource: Resource, ports: Ports, now: dt.datetime) -> Reconciled:
    spec: RolloutSpec = resource.spec
    status = resource.status
    assert isinstance(status, RolloutStatus)
    if status.phase in _FINISHED:
        # Finished is final: what the status says about how it ended stays as it was written.
        return Reconciled([])
    # The timer ticks every second so a breach is acted on within one analysis interval; a tick
    # before the last decision asked to look again costs nothing, unless a person acted or the
    # spec changed meanwhile.
    requests = _requests(resource.annotations)
    if (
        status.next_check_at is not None
        and now < status.next_check_at
        and requests == status.requests_seen
        and status.observed_generation == resource.generation
    ):
        return Reconciled([])
    accepted = await check_references(resource, ports)
    if accepted.status != "True":
        return Reconciled([accepted], status_updates=_pending(now, requests))
    candidate = await ports.cluster.get_paved("ModelVersion", resource.namespace, spec.candidate)
    registry = ((candidate or {}).get("status") or {}).get("registry") or {}
    gone = status.current_step is not None and not registry.get("uri")
    if not registry.get("uri") and not gone:
        waiting = Observation(
            PROGRESSING, "Unknown", "WaitingForCandidate",
            f"ModelVersion {spec.candidate} is not registered yet.",
        )  # fmt: skip
        return Reconciled([accepted, waiting], status_updates=_pending(now, requests))

    # A candidate deleted mid-rollout: its model is the one the router serves as candidate.
    model_uri = str(registry.get("uri") or status.candidate_model or "")
    policies = await governing_policies(resource.namespace, ports)
    router = await ports.routers.router_for(resource.namespace, spec.target)
    if isinstance(router, Unroutable):
        return _unroutable(router, accepted, status=status, now=now, requests=requests)
    observed_traffic = await router.observe(model_uri)
    if status.current_step is None:
        refused = refusal(Facts(
            spec.candidate, ((candidate or {}).get("status") or {}).get("phase"),
            router.described, router.backend, router.capabilities, spec.steps, observed_traffic,
            await _competing(resource, ports), await _invalid_queries(spec, ports),
            rollout_violations(policies, spec),
        ))  # fmt: skip
        if refused is not None:
            not_started = Observation(PROGRESSING, "False", refused.reason, refused.message)
            return Reconciled(
                [accepted, not_started],
                status_updates=_pending(now, requests) | {"message": refused.message},
            )
    progress = Progress(
        status.current_step, status.step_started_at, status.breaches, status.no_data_since
    )
    readings: list[GuardrailReading] = []
    carried = [_carried(record) for record in status.analysis]
    experiment: AbResult | None = None
    unavailable: str | None = None
    read_all = False  # every guardrail read (there may be none) and the A/B counts, if any
    # Due within half a tick of the interval: on a 1 s tick, analyses then land within half a
    # second either side of their time instead of up to a whole tick late.
    due = status.last_analysis_at is None or now - status.last_analysis_at >= parse_duration(
        spec.analysis.interval
    ) - dt.timedelta(seconds=ROLLOUT_TICK_SECONDS / 2)
    updates: dict[str, Any] = {"candidate_model": model_uri, "requests_seen": requests}
    if status.current_step is not None and due:
        arm = Arm.SHADOW if judged_as_shadow(observed_traffic) else Arm.CANDIDATE
        try:
            readings = [await _reading(rule, spec, router, arm, ports) for rule in spec.guardrails]
            step = spec.steps[status.current_step].ab_test
            if step is not None and status.step_started_at is not None:
                experiment = await _experiment(step, router, status.step_started_at, now, ports)
            read_all = True
        except TransientError as error:
            # Nothing read counts: a half-done analysis is evidence neither way.
            readings, experiment, unavailable = [], None, str(error)
    if read_all:
        if status.last_analysis_at is not None:
            late = now - status.last_analysis_at - parse_duration(spec.analysis.interval)
            ANALYSIS_LAG_SECONDS.observe(max(late.total_seconds(), 0.0))
        updates |= {
            "last_analysis_at": now,
            "analysis": [
                ReadingRecord(
                    guardrail=r.guardrail, verdict=r.state.value, at=now, message=r.message,
                    value=r.value, threshold=r.threshold,
                )
                for r in readings
            ],
        }  # fmt: skip
    if experiment is not None:
        updates["experiment"] = Experiment(
            outcome=experiment.outcome.value, effect=experiment.effect,
            low=experiment.low, high=experiment.high, p_value=experiment.p_value,
            samples_baseline=experiment.samples_baseline,
            samples_candidate=experiment.samples_candidate,
            required_per_arm=experiment.required_per_arm, at=now,
        )  # fmt: skip
    # A resume or a promote is one request: its annotation's value (a timestamp) is consumed once.
    resume = resource.annotations.get(RESUME_ANNOTATION)
    promote = resource.annotations.get(PROMOTE_ANNOTATION)
    updates |= {"resumed": resume, "promoted": promote}
    decision = decide(
        spec,
        progress,
        Observations(
            observed_traffic,
            readings,
            carried=[] if readings or unavailable else carried,
            metrics_unavailable=unavailable,
            ab=experiment,
            rollback_requested=ROLLBACK_ANNOTATION in resource.annotations,
            resume_requested=requested(resume, status.resumed),
            pause_requested=resource.annotations.get(PAUSE_ANNOTATION),
            promote_requested=requested(promote, status.promoted),
            promotion_refused=_promotion_refused(spec.candidate, candidate, policies),
            candidate_gone=(
                f"ModelVersion {spec.candidate} is gone (deleted mid-rollout, or its registry "
                "entry cleared by a retraining): the baseline takes all traffic back."
            )
            if gone
            else None,
            policies=policies,
        ),
        now,
    )
    applied: Traffic | None = observed_traffic
    phase = Phase.PROGRESSING
    # Blind, the rollout cannot tell whether it progresses: Unknown, as Kubernetes means it.
    blind = isinstance(decision, Hold) and decision.blind
    condition = Observation(
        PROGRESSING, "Unknown" if blind else "True", decision.reason, decision.message
    )
    match decision:
        case SetTraffic() | RollBack():
            try:
                await router.apply(decision.traffic, model_uri)
            except PermanentError as error:
                # The deployment changed under the rollout (deleted, its baseline renamed).
                stopped = Observation(PROGRESSING, "False", "RouteRefused", str(error))
                return Reconciled([accepted, stopped], status_updates={"message": str(error)})
            applied = decision.traffic
            if isinstance(decision, RollBack):
                phase = Phase.ROLLED_BACK
                condition = Observation(PROGRESSING, "False", decision.reason, decision.message)
                ROLLBACKS.labels(resource.namespace, resource.name, decision.reason).inc()
        case Complete():
            phase = Phase.SUCCEEDED
            condition = Observation(PROGRESSING, "False", decision.reason, decision.message)
        case Promote():
            phase = Phase.SUCCEEDED
            condition = Observation(PROGRESSING, "False", decision.reason, decision.message)
            # The router first, the registry second: repeated after a crash, the promotion
            # finds the router's part done (traffic is read by model) and finishes.
            await router.promote(model_uri)
            # The name the candidate was registered under: its namespace's model.
            model = str(registry["name"])
            await ports.registry.set_stage(model, str(registry["version"]), Stage.PRODUCTION)
            applied = Traffic(0, 100, False)
        case Pause():
            phase = Phase.PAUSED
        case _:
            pass
    # Look again when the decision asks to, and no later than the next analysis is due.
    wait = decision.check_again_seconds if isinstance(decision, Hold) else 1.0
    if decision.progress.step is not None and not blind:
        analysed = updates.get("last_analysis_at", status.last_analysis_at) or now
        due_in = (analysed + parse_duration(spec.analysis.interval) - now).total_seconds()
        due_in -= ROLLOUT_TICK_SECONDS / 2
        wait = min(wait, max(due_in, 0.0))
    updates["next_check_at"] = now + dt.timedelta(seconds=wait)
    position = decision.progress.step
    if applied is not None:
        CANDIDATE_WEIGHT.labels(resource.namespace, resource.name).set(applied.candidate)
    updates |= {
        "phase": phase,
        "current_step": position,
        "current_step_kind": step_kind(spec.steps[position]) if position is not None else None,
        "step_started_at": decision.progress.step_started_at,
        "breaches": decision.progress.breaches,
        "no_data_since": decision.progress.no_data_since,
        "traffic": TrafficSplit(
            baseline=applied.baseline, candidate=applied.candidate, shadow=applied.shadow
        ) if applied else None,
        "message": decision.message,
    }  # fmt: skip
    return Reconciled([accepted, condition], status_updates=updates)
