"""The ModelVersion's steps: (subject, spec, status, what was seen, now) → the next step.

Pure. A reconcile is a short exchange: the core asks to read something (the run, the outcome it
produced, the registry's version for the run key) or to do something (start the run, register
the version, record the sign-off, move the stage); the controller does it through a port and
hands back what it saw; the core decides again, until the step is a `Report`, the status to
write. Every act is idempotent and its effect is read back before the next decision, so a crash
between two steps repeats at most one idempotent call.

The phase says what is happening now:
- Pending: the run has not started (a reference is missing, or the registry cannot say what
  production is, which the run is compared with).
- Training: the run is under way and its `train` task has not produced the model yet.
- Evaluating: the model exists and its verdict is not in: the run is evaluating it and running
  the gates, or the run is over and the registry does not hold the version and its stage yet.
- Held, Staging, Production, Archived: the version's registry stage (Held: Trained with a
  failing gate, so never promoted).
- Failed: the run did not succeed or left no readable outcome; final for its run key.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, assert_never

from pydantic import BaseModel, ValidationError

from paved.api.model_version import (
    ApprovalRecord,
    FeatureViewVersion,
    GateResult,
    Lineage,
    ModelVersionPhase,
    ModelVersionSpec,
    ModelVersionStatus,
    PipelineSource,
    RegistryEntry,
    RunRecord,
    Stage,
    UpstreamModels,
)
from paved.core.conditions import Observation
from paved.core.gates import GateVerdict, Verdict, summary
from paved.core.model_lifecycle import Evidence, Transition, transition
from paved.core.model_versions import (
    APPROVED_BY_TAG,
    GATES_PASSED,
    TERMINAL,
    TRAINED,
    PipelineRun,
    RegisteredVersion,
    RunState,
    gates_condition,
    phase_for_stage,
    registered_model_name,
    run_key,
)
from paved.core.pipeline_contract import (
    BuiltInPipeline,
    PackagePipeline,
    PipelineMissing,
    PipelineText,
    TrainingPipeline,
    checked,
)
from paved.core.promotion_policy import (
    POLICY_SATISFIED,
    POLICY_VIOLATED,
    Authors,
    NamedPolicy,
    gate_violations,
    gates_digest,
    sign_off_verdict,
)
from paved.core.reasons import ModelVersionReason, PolicyReason

# Every training pipeline fits its model in a task of this name; the tasks after it evaluate
# the model and run the gates. The runners report finished tasks by their pipeline names.
TRAINING_TASK: Final = "train"
REGISTRY_UNAVAILABLE: Final = ModelVersionReason.REGISTRY_UNAVAILABLE
PIPELINES_UNAVAILABLE: Final = ModelVersionReason.PIPELINES_UNAVAILABLE


@dataclass(frozen=True)
class Subject:
    """The object the steps are for, and the commit of the code that trains it."""

    uid: str
    namespace: str
    name: str
    code_commit: str
    authors: Authors = field(default_factory=Authors)


class TrainingOutcome(BaseModel):
    """What the pipeline returns (its output parameter, also logged to MLflow)."""

    mlflowRunId: str  # noqa: N815 (the pipeline's JSON field)
    passed: bool
    metrics: dict[str, float]
    sliceMetrics: dict[str, float]  # noqa: N815
    verdicts: list[dict[str, Any]]
    lineage: dict[str, Any]


@dataclass(frozen=True)
class Version:
    """The registry's answer for the run key: the version, or None when none carries it."""

    registered: RegisteredVersion | None


@dataclass(frozen=True)
class Unavailable:
    """A service or source the last step needed could not be reached; `reason` says which
    (REGISTRY_UNAVAILABLE, PIPELINES_UNAVAILABLE, FEATURES_UNAVAILABLE), `message` what failed
    and since when."""

    reason: ModelVersionReason
    message: str
    retry_after_seconds: float


@dataclass(frozen=True)
class Seen:
    """What the controller has read in this reconcile; None: not read yet."""

    accepted: Observation
    run: PipelineRun | None = None
    outcome: str | None = None  # the outcome document; "" when the run left none
    pipeline: PipelineText | PipelineMissing | None = None  # a team's compiled IR, as read
    version: Version | None = None
    unavailable: Unavailable | None = None


# -- steps: reads and acts the controller carries out, then the report that ends a reconcile --


@dataclass(frozen=True)
class ReadPipeline:
    """A team's compiled pipeline: the IR in the ConfigMap's key, checked before any run."""

    config_map: str
    key: str


@dataclass(frozen=True)
class StartRun:
    key: str
    pipeline: TrainingPipeline


@dataclass(frozen=True)
class ReadRun:
    run_id: str


@dataclass(frozen=True)
class ReadOutcome:
    """The run's output parameter, or what it logged to the registry under its key."""

    run_id: str
    key: str


@dataclass(frozen=True)
class FindVersion:
    key: str


@dataclass(frozen=True)
class Register:
    key: str
    mlflow_run_id: str
    tags: Mapping[str, str]


@dataclass(frozen=True)
class RecordSignOff:
    version: str
    approval: ApprovalRecord


@dataclass(frozen=True)
class SetStage:
    version: str
    stage: Stage


@dataclass(frozen=True)
class Report:
    """The status to write; with a retry, look again after that many seconds, not a tick."""

    observed: tuple[Observation, ...]
    updates: Mapping[str, Any]
    retry_after_seconds: float | None = None
    retry_reason: str = ""


Act = (
    ReadPipeline
    | StartRun
    | ReadRun
    | ReadOutcome
    | FindVersion
    | Register
    | RecordSignOff
    | SetStage
)
Step = Act | Report

# What a new training input leaves behind: the previous input's verdict does not describe it.
_NO_VERDICT: Final[Mapping[str, Any]] = {
    "stage": None,
    "registry": None,
    "lineage": None,
    "gates": [],
    "gates_summary": None,
}


def decide(
    subject: Subject,
    spec: ModelVersionSpec,
    status: ModelVersionStatus,
    *,
    seen: Seen,
    now: dt.datetime,
    policies: Sequence[NamedPolicy] = (),
) -> Step:
    """The next step, in three parts: what the policies and the sign-off say (reported every
    time), the run, then the registry's version for the run key."""
    if seen.accepted.status != "True":
        return Report((seen.accepted,), {"phase": ModelVersionPhase.PENDING})
    judged = _judge(subject, spec, status, seen=seen, now=now, policies=policies)
    if seen.run is not None:
        record = _record(judged.record, seen.run, judged.key, now=now)
        judged = replace(judged, record=record, updates={**judged.updates, "run": record})
    started = _run_step(judged, spec, status, seen=seen)
    return started or _registry_step(judged, subject, spec, seen=seen)


@dataclass(frozen=True)
class _Judged:
    """What every report of this reconcile carries: the conditions on acceptance, sign-off and
    policy, the status fields they set, and the verdict recorded for the current run key."""

    key: str
    observed: tuple[Observation, ...]
    updates: Mapping[str, Any]
    approval: ApprovalRecord | None
    violations: Sequence[str]
    record: RunRecord | None  # the run recorded for the current key
    recorded: RegistryEntry | None  # the registry entry recorded for it
    unavailable: Unavailable | None

    def report(self, phase: ModelVersionPhase, *conditions: Observation, **fields: Any) -> Report:
        return Report((*self.observed, *conditions), {**self.updates, **fields, "phase": phase})

    def ask(self, step: Act, phase: ModelVersionPhase | None) -> Step:
        """`step`, unless a service it needs could not be reached: then say so and retry
        later. `phase` None: the verdict is recorded, and only following its stage waits."""
        down = self.unavailable
        if down is None:
            return step
        message = f"{down.message}; next attempt in {down.retry_after_seconds:g} s."
        if phase is None:
            return Report(self.observed, self.updates, down.retry_after_seconds, message)
        waiting = Observation(TRAINED, "Unknown", down.reason, message)
        updates = {**self.updates, "phase": phase}
        return Report((*self.observed, waiting), updates, down.retry_after_seconds, message)


def _judge(
    subject: Subject,
    spec: ModelVersionSpec,
    status: ModelVersionStatus,
    *,
    seen: Seen,
    now: dt.datetime,
    policies: Sequence[NamedPolicy],
) -> _Judged:
    """The policies' verdict on the spec and the sign-off's on what would be promoted."""
    key = run_key(subject.uid, spec, namespace=subject.namespace)
    current = status.run is not None and status.run.key == key
    violations = gate_violations(policies, spec)
    signed = sign_off_verdict(
        policies,
        spec.approval,
        subject.authors,
        registry_version=status.registry.version if current and status.registry else None,
        digest=status.gates_digest if current else None,
    )
    observed = [seen.accepted, signed.condition, _policy_condition(policies, violations)]
    approval = _approval(spec, status, valid=signed.valid, now=now)
    updates: dict[str, Any] = {"approval": approval}
    if not current:
        # A new training input: the previous input's verdict does not describe it.
        updates |= _NO_VERDICT
        message = "The gates run once the model is trained."
        observed.append(
            Observation(GATES_PASSED, "Unknown", ModelVersionReason.NOT_EVALUATED, message)
        )
    record = status.run if current else None
    recorded = status.registry if current else None
    return _Judged(
        key, tuple(observed), updates, approval, violations, record, recorded, seen.unavailable
    )


def _approval(
    spec: ModelVersionSpec, status: ModelVersionStatus, *, valid: bool, now: dt.datetime
) -> ApprovalRecord | None:
    """The sign-off as the status records it, while it is valid; its time is when it was
    first seen."""
    sign_off = spec.approval.sign_off
    if not valid or sign_off is None:
        return None
    previous = status.approval
    at = previous.at if previous is not None and previous.by == sign_off.by else now
    return ApprovalRecord(by=sign_off.by, at=at, comment=sign_off.comment)


def _run_step(
    judged: _Judged, spec: ModelVersionSpec, status: ModelVersionStatus, *, seen: Seen
) -> Step | None:
    """Start the run, follow it, or report how it ended; None: it succeeded."""
    record = judged.record
    if record is None:
        if judged.violations:
            # Nothing is trained that could not be promoted: the spec must meet the policy.
            return judged.report(ModelVersionPhase.PENDING)
        return _start(judged, spec, seen=seen)
    state = RunState(record.state)
    if state not in TERMINAL:
        return _running(judged, record, status, seen=seen)
    if seen.run is None and status.phase is ModelVersionPhase.FAILED:
        # Final for this key: why it failed was reported when it was seen.
        return judged.report(ModelVersionPhase.FAILED)
    if state is not RunState.SUCCEEDED:
        error = seen.run.error if seen.run is not None else None
        message = f"Run {record.id} {state.value.lower()}: {error or 'no detail'}"
        reason = ModelVersionReason(f"Pipeline{state.value}")
        failed = Observation(TRAINED, "False", reason, message)
        return judged.report(ModelVersionPhase.FAILED, failed)
    return None


def _start(judged: _Judged, spec: ModelVersionSpec, *, seen: Seen) -> Step:
    """Start the pipeline the spec names; a team's compiled one only once its IR meets the
    pipeline contract (else Pending, with what is missing: the next tick reads it again)."""
    pipeline = spec.pipeline
    to_run: TrainingPipeline
    match pipeline.source:
        case PipelineSource.BUILT_IN:
            to_run = BuiltInPipeline(str(pipeline.name))
        case PipelineSource.PACKAGE:
            to_run = PackagePipeline(str(pipeline.package))
        case PipelineSource.COMPILED:
            assert pipeline.compiled is not None  # what the source says
            if seen.pipeline is None:
                read = ReadPipeline(pipeline.compiled.config_map, pipeline.compiled.key)
                return judged.ask(read, ModelVersionPhase.PENDING)
            compiled = checked(seen.pipeline)
            if isinstance(compiled, Observation):
                return judged.report(ModelVersionPhase.PENDING, compiled)
            to_run = compiled
        case _:
            assert_never(pipeline.source)
    return judged.ask(StartRun(judged.key, to_run), ModelVersionPhase.PENDING)


def _running(judged: _Judged, record: RunRecord, status: ModelVersionStatus, *, seen: Seen) -> Step:
    """A run under way: read it, then say whether it trains or evaluates."""
    if seen.run is None:
        return judged.ask(ReadRun(record.id), status.phase or ModelVersionPhase.TRAINING)
    if TRAINING_TASK in seen.run.finished_tasks:
        message = (
            f"Run {record.id} has trained the model and is evaluating it: metrics, slices, "
            "golden cases, then the gates."
        )
        evaluating = Observation(TRAINED, "Unknown", ModelVersionReason.EVALUATING, message)
        return judged.report(ModelVersionPhase.EVALUATING, evaluating)
    message = f"Run {record.id} is {RunState(record.state)}."
    training = Observation(TRAINED, "Unknown", ModelVersionReason.TRAINING, message)
    return judged.report(ModelVersionPhase.TRAINING, training)


def _registry_step(
    judged: _Judged, subject: Subject, spec: ModelVersionSpec, *, seen: Seen
) -> Step:
    """The run succeeded: the verdict is the registry's version for the key and its stage."""
    key, record, recorded = judged.key, judged.record, judged.recorded
    assert record is not None  # the run step hands on only a run that succeeded
    evaluating = ModelVersionPhase.EVALUATING
    if seen.version is None:
        return judged.ask(FindVersion(key), evaluating if recorded is None else None)
    entry = seen.version.registered
    outcome: TrainingOutcome | None = None
    if entry is None or recorded is None or recorded.version != entry.version:
        if seen.outcome is None:
            return judged.ask(ReadOutcome(record.id, key), evaluating)
        parsed = _outcome(seen.outcome, record.id, key)
        if isinstance(parsed, Observation):
            return judged.report(ModelVersionPhase.FAILED, parsed)
        outcome = parsed
    if entry is None:
        assert outcome is not None
        tags = _lineage_tags(subject, spec, record.id, outcome=outcome)
        return judged.ask(Register(key, outcome.mlflowRunId, tags), evaluating)
    approval = judged.approval
    if approval is not None and entry.tags.get(APPROVED_BY_TAG) != approval.by:
        # The registry is the compliance record: who approved what, and when.
        sign_off = RecordSignOff(entry.version, approval)
        return judged.ask(sign_off, evaluating if outcome else None)
    if outcome is None:
        return judged.report(phase_for_stage(entry.stage), stage=entry.stage)
    return _verdict(judged, subject, spec, entry=entry, outcome=outcome, run_id=record.id)


def _verdict(
    judged: _Judged,
    subject: Subject,
    spec: ModelVersionSpec,
    *,
    entry: RegisteredVersion,
    outcome: TrainingOutcome,
    run_id: str,
) -> Step:
    """Stage a version whose gates passed; then report the verdict, the lineage and the gates."""
    verdicts = _verdicts(outcome)
    if entry.stage is Stage.TRAINED:
        failed = tuple(v.gate for v in verdicts if v.verdict is Verdict.FAIL)
        evidence = Evidence(outcome.passed and not judged.violations, (*failed, *judged.violations))
        staging = transition(Stage.TRAINED, Stage.STAGING, evidence)
        if isinstance(staging, Transition):
            return judged.ask(SetStage(entry.version, Stage.STAGING), ModelVersionPhase.EVALUATING)
    name = registered_model_name(subject.namespace, spec.model)
    results = [
        GateResult(
            name=v.gate,
            verdict=v.verdict.value,
            value=v.value,
            threshold=v.threshold,
            message=v.message,
        )
        for v in verdicts
    ]
    message = f"{name} version {entry.version} from run {run_id}."
    return judged.report(
        phase_for_stage(entry.stage),
        Observation(TRAINED, "True", ModelVersionReason.REGISTERED, message),
        gates_condition(verdicts),
        stage=entry.stage,
        registry=RegistryEntry(
            name=name, version=entry.version, uri=entry.uri, run_id=outcome.mlflowRunId
        ),
        lineage=_lineage(subject, spec, outcome),
        gates=results,
        gates_summary=summary(verdicts),
        gates_digest=gates_digest(results),
    )


def _lineage(subject: Subject, spec: ModelVersionSpec, outcome: TrainingOutcome) -> Lineage:
    views = outcome.lineage.get("featureViews", {})
    upstream = outcome.lineage.get("upstreamModels", {})
    return Lineage(
        dataset_hash=outcome.lineage.get("datasetHash"),
        feature_views=[FeatureViewVersion(name=n, version=v) for n, v in views.items()],
        upstream_models=[
            UpstreamModels(batch_prediction=n, model_versions=list(v)[:64])
            for n, v in sorted(upstream.items())
        ],
        code_commit=subject.code_commit,
        parameters=spec.pipeline.parameters | {"seed": spec.pipeline.seed},
        # JSON has no NaN or Infinity: a metric that is not a number stays in MLflow only.
        metrics={k: v for k, v in outcome.metrics.items() if math.isfinite(v)},
        slice_metrics={k: v for k, v in outcome.sliceMetrics.items() if math.isfinite(v)},
    )


def _policy_condition(policies: Sequence[NamedPolicy], violations: Sequence[str]) -> Observation:
    if violations:
        return Observation(POLICY_SATISFIED, "False", POLICY_VIOLATED, "; ".join(violations))
    if not policies:
        message = "No PromotionPolicy governs this namespace: a sign-off is required."
    else:
        message = f"Meets PromotionPolicy {', '.join(p.name for p in policies)}."
    return Observation(POLICY_SATISFIED, "True", PolicyReason.POLICY_MET, message)


def _record(
    previous: RunRecord | None, run: PipelineRun, key: str, *, now: dt.datetime
) -> RunRecord:
    same = previous is not None and previous.id == run.id
    started = previous.started_at if previous is not None and same else now
    finished = previous.finished_at if previous is not None and same else None
    if finished is None and run.state in TERMINAL:
        finished = now
    return RunRecord(
        id=run.id, key=key, state=run.state.value, started_at=started, finished_at=finished
    )


def _outcome(document: str, run_id: str, key: str) -> TrainingOutcome | Observation:
    """The parsed outcome, or the Trained condition that says why it cannot be read."""
    if not document:
        return Observation(
            TRAINED,
            "False",
            ModelVersionReason.UNREADABLE_OUTCOME,
            f"Run {run_id} left no outcome: neither its output nor the registry has one for "
            f"run key {key}.",
        )
    try:
        return TrainingOutcome.model_validate_json(document)
    except ValidationError as error:
        return Observation(
            TRAINED,
            "False",
            ModelVersionReason.UNREADABLE_OUTCOME,
            f"Run {run_id}'s outcome: {error}",
        )


def _verdicts(outcome: TrainingOutcome) -> list[GateVerdict]:
    return [
        GateVerdict(
            gate=v["gate"],
            verdict=Verdict(v["verdict"]),
            reason=v["reason"],
            message=v["message"],
            value=_finite(v.get("value")),
            threshold=_finite(v.get("threshold")),
        )
        for v in outcome.verdicts
    ]


def _finite(number: float | None) -> float | None:
    """A gate's number, or None when it is not one (NaN, ±Inf): its message still says it."""
    return number if number is not None and math.isfinite(number) else None


def _lineage_tags(
    subject: Subject, spec: ModelVersionSpec, run_id: str, *, outcome: TrainingOutcome
) -> dict[str, str]:
    return {
        "paved.dataset_hash": str(outcome.lineage.get("datasetHash", "")),
        "paved.feature_views": json.dumps(outcome.lineage.get("featureViews", {}), sort_keys=True),
        "paved.code_commit": subject.code_commit,
        "paved.pipeline_run": run_id,
        "paved.model_version": f"{subject.namespace}/{subject.name}",
        "paved.pipeline": spec.pipeline.reference,
        "paved.gates": summary(_verdicts(outcome)),
        "paved.gate_results": json.dumps(outcome.verdicts, sort_keys=True)[:5000],
        "paved.parameters": json.dumps(
            spec.pipeline.parameters | {"seed": spec.pipeline.seed}, sort_keys=True
        ),
        "paved.metrics": json.dumps(outcome.metrics, sort_keys=True),
    } | _upstream_tag(outcome)


def _upstream_tag(outcome: TrainingOutcome) -> dict[str, str]:
    """A hybrid's upstream models, as the registered version's tag (none for other models)."""
    upstream = outcome.lineage.get("upstreamModels")
    return (
        {"paved.upstream_models": json.dumps(upstream, sort_keys=True)[:5000]} if upstream else {}
    )
