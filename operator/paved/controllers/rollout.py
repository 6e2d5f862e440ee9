"""Rollout: step traffic from baseline to candidate on evidence, roll back when a guardrail fires.

A timer drives it: each tick observes the split and (every `analysis.interval`) the guardrails,
asks the core's `decide` what to do, does it through the router, and writes what happened.
A person rolls back with `paved rollout rollback` (an annotation) and resumes a pause likewise.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from paved.api.crds import ROLLOUT
from paved.api.meta import parse_duration
from paved.api.model_version import Stage
from paved.api.rollout import Guardrail, Phase, RolloutSpec, RolloutStatus, TrafficSplit
from paved.api.rollout import GuardrailReading as ReadingRecord
from paved.controllers._kopf import Reconciled, Resource, timer
from paved.controllers.acceptance import check_references
from paved.core.conditions import Observation
from paved.core.guardrails import Reading, builtin_queries, evaluate
from paved.core.model_lifecycle import Evidence, Refusal, transition
from paved.core.rollout_steps import (
    Complete,
    GuardrailReading,
    Observations,
    Pause,
    Progress,
    RollBack,
    SetTraffic,
    Traffic,
    decide,
    step_kind,
)
from paved.observability import CANDIDATE_WEIGHT, ROLLBACKS
from paved.ports import Ports
from paved.ports.traffic import Route

ROLLBACK_ANNOTATION: Final = "paved.dev/rollback"
RESUME_ANNOTATION: Final = "paved.dev/resume"
PROGRESSING: Final = "Progressing"
_FINISHED = {Phase.SUCCEEDED, Phase.ROLLED_BACK, Phase.FAILED}


async def _reading(
    rule: Guardrail, spec: RolloutSpec, route: Route, predictor: str, ports: Ports
) -> GuardrailReading:
    window = spec.analysis.window
    if rule.builtin is None:
        value = await ports.metrics.value(rule.query or "")
        return evaluate(rule, Reading(value, None), spec.analysis.min_samples)
    candidate = builtin_queries(rule.builtin, route.namespace, route.deployment, predictor, window)
    baseline = None
    if rule.vs_baseline is not None:
        baseline_query = builtin_queries(
            rule.builtin, route.namespace, route.deployment, route.baseline, window
        )
        baseline = await ports.metrics.value(baseline_query.value)
    reading = Reading(
        await ports.metrics.value(candidate.value),
        await ports.metrics.value(candidate.samples),
        baseline,
    )
    return evaluate(rule, reading, spec.analysis.min_samples)


def _promotion_refused(model_version: dict[str, Any]) -> str | None:
    """Why the registry's transition table refuses production now, if it does."""
    approval = (model_version.get("spec") or {}).get("approval") or {}
    signed = (approval.get("signOff") or {}).get("by")
    evidence = Evidence(
        gates_passed=True,
        approval_required=bool(approval.get("required", True)),
        approved_by=signed,
        rollout_succeeded=True,
    )
    decision = transition(Stage.STAGING, Stage.PRODUCTION, evidence)
    return decision.message if isinstance(decision, Refusal) else None


@timer(ROLLOUT)
async def progress_rollout(resource: Resource, ports: Ports, now: dt.datetime) -> Reconciled:
    spec: RolloutSpec = resource.spec
    status = resource.status
    assert isinstance(status, RolloutStatus)
    accepted = await check_references(resource, ports)
    if accepted.status != "True":
        return Reconciled([accepted], status_updates={"phase": Phase.PENDING})
    candidate = await ports.cluster.get_paved("ModelVersion", resource.namespace, spec.candidate)
    registry = ((candidate or {}).get("status") or {}).get("registry") or {}
    if not registry.get("uri"):
        waiting = Observation(
            PROGRESSING, "Unknown", "WaitingForCandidate",
            f"ModelVersion {spec.candidate} is not registered yet.",
        )  # fmt: skip
        return Reconciled([accepted, waiting], status_updates={"phase": Phase.PENDING})

    target = spec.target
    route = Route(
        resource.namespace, target.seldon_deployment, target.baseline_predictor,
        target.candidate_predictor, target.shadow_predictor,
    )  # fmt: skip
    observed_traffic = await ports.router.observe(route)
    finished = status.phase in _FINISHED
    progress = Progress(
        status.current_step, status.step_started_at, status.breaches, status.no_data_since, finished
    )
    readings: list[GuardrailReading] = []
    due = status.last_analysis_at is None or now - status.last_analysis_at >= parse_duration(
        spec.analysis.interval
    )
    updates: dict[str, Any] = {"candidate_model": registry["uri"]}
    if not finished and status.current_step is not None and due:
        # While shadowing, the candidate's requests are the shadow predictor's.
        shadowing = observed_traffic == Traffic(100, 0, True)
        predictor = route.shadow if shadowing else route.candidate
        readings = [await _reading(rule, spec, route, predictor, ports) for rule in spec.guardrails]
        updates |= {
            "last_analysis_at": now,
            "analysis": [
                ReadingRecord(
                    guardrail=r.guardrail, verdict=r.state.value, at=now, message=r.message
                )
                for r in readings
            ],
        }
    # A resume is one request: its annotation's value (a timestamp) is consumed once.
    resume = resource.annotations.get(RESUME_ANNOTATION)
    updates["resumed"] = resume
    decision = decide(
        spec,
        progress,
        Observations(
            observed_traffic,
            readings,
            None,
            rollback_requested=ROLLBACK_ANNOTATION in resource.annotations,
            resume_requested=resume is not None and resume != status.resumed,
            promotion_refused=_promotion_refused(candidate or {}),
        ),
        now,
    )
    applied: Traffic | None = observed_traffic
    phase = Phase.PROGRESSING
    condition = Observation(PROGRESSING, "True", decision.reason, decision.message)
    match decision:
        case SetTraffic() | RollBack():
            await ports.router.apply(route, decision.traffic, registry["uri"])
            applied = decision.traffic
            if isinstance(decision, RollBack):
                phase = Phase.ROLLED_BACK
                condition = Observation(PROGRESSING, "False", decision.reason, decision.message)
                ROLLBACKS.labels(resource.namespace, resource.name, decision.reason).inc()
        case Complete():
            phase = Phase.SUCCEEDED
            condition = Observation(PROGRESSING, "False", decision.reason, decision.message)
            if decision.reason == "Promoted":
                model = (candidate or {}).get("spec", {}).get("model", "")
                await ports.registry.set_stage(model, str(registry["version"]), Stage.PRODUCTION)
        case Pause():
            phase = Phase.PAUSED
        case _:
            phase = status.phase if finished and status.phase else Phase.PROGRESSING
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
