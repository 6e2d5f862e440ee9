"""The ModelVersion's steps, case by case: what the core asks for next, and what it reports."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
import yaml

from paved.api.model_version import (
    ApprovalRecord,
    ModelVersionPhase,
    ModelVersionSpec,
    ModelVersionStatus,
    RegistryEntry,
    RunRecord,
    Stage,
)
from paved.core.model_version_steps import (
    PIPELINES_UNAVAILABLE,
    REGISTRY_UNAVAILABLE,
    TRAINING_TASK,
    FindVersion,
    ReadOutcome,
    ReadPipeline,
    ReadRun,
    RecordSignOff,
    Register,
    Report,
    Seen,
    SetStage,
    StartRun,
    Step,
    Subject,
    Unavailable,
    Version,
    decide,
)
from paved.core.model_versions import (
    APPROVED_BY_TAG,
    PipelineRun,
    RegisteredVersion,
    RunState,
    run_key,
)
from paved.core.pipeline_contract import (
    BuiltInPipeline,
    CompiledIR,
    PackagePipeline,
    PipelineMissing,
    PipelineText,
)
from paved.core.reasons import ModelVersionReason
from paved.core.references import Reference, acceptance
from tests.support.training import PASSING_VERDICT, ROOT, example

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC)
EARLIER = NOW - dt.timedelta(minutes=2)
SUBJECT = Subject("uid-1", "ml", "churn-v1", "c0ffee")
SPEC = ModelVersionSpec.model_validate(example("02-modelversion.yaml")["spec"])
KEY = run_key(SUBJECT.uid, SPEC, namespace=SUBJECT.namespace)
ACCEPTED = acceptance([], "ml")
BUILT_IN = BuiltInPipeline("tabular-classifier")
MISSING = acceptance([Reference("FeatureView", "user-activity-v1")], "ml")
DOWN = Unavailable(
    REGISTRY_UNAVAILABLE,
    "MLflow at http://mlflow:5000 cannot be reached to register churn: refused",
    20,
)
KFP_DOWN = Unavailable(
    PIPELINES_UNAVAILABLE, "KFP's API at http://kfp:8888 cannot be reached (get run): refused", 10
)

PASS = PASSING_VERDICT
FAIL = {
    "gate": "slice:new_users",
    "verdict": "fail",
    "reason": "SliceRegressed",
    "message": "slice new_users: auc worse by 0.05",
    "value": 0.05,
    "threshold": 0.01,
}


def _outcome(*verdicts: dict[str, Any]) -> str:
    return json.dumps(
        {
            "mlflowRunId": "mlrun-1",
            "passed": all(v["verdict"] != "fail" for v in verdicts),
            "metrics": {"auc": 0.81},
            "sliceMetrics": {"new_users": 0.78},
            "verdicts": list(verdicts),
            "lineage": {"datasetHash": "d" * 64, "featureViews": {"user-activity-v1": "fv-7"}},
        }
    )


PASSED, FAILED = _outcome(PASS), _outcome(PASS, FAIL)


def _run(state: str = "Running", key: str = KEY, finished: bool = False) -> RunRecord:
    return RunRecord(
        id="run-1",
        key=key,
        state=state,
        started_at=EARLIER,
        finished_at=EARLIER if finished else None,
    )


def _status(
    phase: ModelVersionPhase | None = None, run: RunRecord | None = None, **more: Any
) -> Any:
    return ModelVersionStatus(phase=phase, run=run, **more)


TRAINING = _status(ModelVersionPhase.TRAINING, _run())
SUCCEEDED = _status(ModelVersionPhase.EVALUATING, _run("Succeeded", finished=True))
RECORDED = _status(
    ModelVersionPhase.STAGING,
    _run("Succeeded", finished=True),
    stage=Stage.STAGING,
    registry=RegistryEntry(name="churn", version="3", uri="models:/churn/3"),
    gates_digest="sha256:gates-of-version-3",
)


def _version(stage: Stage, version: str = "3", **tags: str) -> Version:
    return Version(
        RegisteredVersion(
            "ml.churn", version, "mlrun-1", f"models:/ml.churn/{version}", stage, tags
        )
    )


def _seen(**seen: Any) -> Seen:
    return Seen(ACCEPTED, **seen)


def _signed(by: str = "alice") -> ModelVersionSpec:
    document = SPEC.model_dump(by_alias=True, mode="json")
    document["approval"]["signOff"] = {
        "by": by,
        "comment": "AUC holds",
        "registryVersion": "3",
        "gatesDigest": "sha256:gates-of-version-3",
        "groups": ["ml-approvers"],
    }
    return ModelVersionSpec.model_validate(document)


def _briefly(step: Step) -> Any:
    """An act as it is; a report as its phase, its Trained and GatesPassed conditions and its
    retry: what tells the cases apart."""
    if not isinstance(step, Report):
        return step
    conditions = tuple(
        sorted(
            (o.type, o.status, o.reason)
            for o in step.observed
            if o.type in ("Trained", "GatesPassed")
        )
    )
    return (step.updates.get("phase"), conditions, step.retry_after_seconds)


NOT_EVALUATED = ("GatesPassed", "Unknown", "NotEvaluated")
REGISTRY_DOWN = ("Trained", "Unknown", "RegistryUnavailable")
PIPELINES_DOWN = ("Trained", "Unknown", "PipelinesUnavailable")

CASES = [
    # id, status, seen, the step
    (
        "a-missing-reference-keeps-it-pending",
        _status(),
        Seen(MISSING),
        (ModelVersionPhase.PENDING, (), None),
    ),
    ("nothing-started-starts-the-run", _status(), _seen(), StartRun(KEY, BUILT_IN)),
    (
        "a-changed-training-input-starts-a-new-run",
        _status(ModelVersionPhase.STAGING, _run(key="uid-1-old")),
        _seen(),
        StartRun(KEY, BUILT_IN),
    ),
    (
        "the-registry-down-at-start-keeps-it-pending",
        _status(),
        _seen(unavailable=DOWN),
        (ModelVersionPhase.PENDING, (NOT_EVALUATED, REGISTRY_DOWN), 20),
    ),
    (
        "the-pipelines-down-at-start-keep-it-pending",
        _status(),
        _seen(unavailable=KFP_DOWN),
        (ModelVersionPhase.PENDING, (NOT_EVALUATED, PIPELINES_DOWN), 10),
    ),
    (
        "a-started-run-is-training",
        _status(),
        _seen(run=PipelineRun("run-1", RunState.PENDING)),
        (ModelVersionPhase.TRAINING, (NOT_EVALUATED, ("Trained", "Unknown", "Training")), None),
    ),
    ("a-run-under-way-is-read", TRAINING, _seen(), ReadRun("run-1")),
    (
        "the-pipelines-down-while-training-keep-it-training",
        TRAINING,
        _seen(unavailable=KFP_DOWN),
        (ModelVersionPhase.TRAINING, (PIPELINES_DOWN,), 10),
    ),
    (
        "a-run-fitting-the-model-is-training",
        TRAINING,
        _seen(run=PipelineRun("run-1", RunState.RUNNING, finished_tasks=frozenset({"prepare"}))),
        (ModelVersionPhase.TRAINING, (("Trained", "Unknown", "Training"),), None),
    ),
    (
        "a-run-past-its-train-task-is-evaluating",
        TRAINING,
        _seen(
            run=PipelineRun(
                "run-1", RunState.RUNNING, finished_tasks=frozenset({"prepare", "train"})
            )
        ),
        (ModelVersionPhase.EVALUATING, (("Trained", "Unknown", "Evaluating"),), None),
    ),
    (
        "a-failed-run-fails",
        TRAINING,
        _seen(run=PipelineRun("run-1", RunState.FAILED, error="OOM")),
        (ModelVersionPhase.FAILED, (("Trained", "False", "PipelineFailed"),), None),
    ),
    (
        "a-canceled-run-fails",
        TRAINING,
        _seen(run=PipelineRun("run-1", RunState.CANCELED)),
        (ModelVersionPhase.FAILED, (("Trained", "False", "PipelineCanceled"),), None),
    ),
    (
        "a-failure-is-final-for-its-key",
        _status(ModelVersionPhase.FAILED, _run("Failed", finished=True)),
        _seen(),
        (ModelVersionPhase.FAILED, (), None),
    ),
    ("a-finished-run-is-looked-up-in-the-registry", SUCCEEDED, _seen(), FindVersion(KEY)),
    (
        "a-run-that-just-succeeded-too",
        TRAINING,
        _seen(run=PipelineRun("run-1", RunState.SUCCEEDED, output=PASSED)),
        FindVersion(KEY),
    ),
    (
        "an-unregistered-run-has-its-outcome-read",
        SUCCEEDED,
        _seen(version=Version(None)),
        ReadOutcome("run-1", KEY),
    ),
    (
        "no-outcome-fails",
        SUCCEEDED,
        _seen(version=Version(None), outcome=""),
        (ModelVersionPhase.FAILED, (("Trained", "False", "UnreadableOutcome"),), None),
    ),
    (
        "a-garbled-outcome-fails",
        SUCCEEDED,
        _seen(version=Version(None), outcome='{"passed": 1}'),
        (ModelVersionPhase.FAILED, (("Trained", "False", "UnreadableOutcome"),), None),
    ),
    (
        "gates-passed-and-registered-at-trained-go-to-staging",
        SUCCEEDED,
        _seen(version=_version(Stage.TRAINED), outcome=PASSED),
        SetStage("3", Stage.STAGING),
    ),
    (
        "a-failed-gate-is-held",
        SUCCEEDED,
        _seen(version=_version(Stage.TRAINED), outcome=FAILED),
        (
            ModelVersionPhase.HELD,
            (("GatesPassed", "False", "SliceRegressed"), ("Trained", "True", "Registered")),
            None,
        ),
    ),
    (
        "staged-is-recorded-with-its-evidence",
        SUCCEEDED,
        _seen(version=_version(Stage.STAGING), outcome=PASSED),
        (
            ModelVersionPhase.STAGING,
            (("GatesPassed", "True", "GatesPassed"), ("Trained", "True", "Registered")),
            None,
        ),
    ),
    (
        "a-recorded-version-follows-its-stage-without-the-outcome",
        RECORDED,
        _seen(version=_version(Stage.PRODUCTION)),
        (ModelVersionPhase.PRODUCTION, (), None),
    ),
    (
        "an-archived-version-is-archived",
        RECORDED,
        _seen(version=_version(Stage.ARCHIVED)),
        (ModelVersionPhase.ARCHIVED, (), None),
    ),
    (
        "the-registry-down-before-the-verdict-is-evaluating",
        SUCCEEDED,
        _seen(unavailable=DOWN),
        (ModelVersionPhase.EVALUATING, (REGISTRY_DOWN,), 20),
    ),
    (
        "the-registry-down-while-registering-is-evaluating",
        SUCCEEDED,
        _seen(version=Version(None), outcome=PASSED, unavailable=DOWN),
        (ModelVersionPhase.EVALUATING, (REGISTRY_DOWN,), 20),
    ),
    (
        "the-registry-down-after-the-verdict-changes-nothing-but-waits",
        RECORDED,
        _seen(unavailable=DOWN),
        (None, (), 20),
    ),
]


@pytest.mark.parametrize(
    ("status", "seen", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_next_step(status: ModelVersionStatus, seen: Seen, expected: Any) -> None:
    assert _briefly(decide(SUBJECT, SPEC, status, seen=seen, now=NOW)) == expected


def test_registering_carries_the_lineage_tags() -> None:
    step = decide(
        SUBJECT, SPEC, SUCCEEDED, seen=_seen(version=Version(None), outcome=PASSED), now=NOW
    )
    assert isinstance(step, Register)
    assert (step.key, step.mlflow_run_id) == (KEY, "mlrun-1")
    tags = step.tags
    assert tags["paved.dataset_hash"] == "d" * 64
    assert json.loads(tags["paved.feature_views"]) == {"user-activity-v1": "fv-7"}
    assert (tags["paved.code_commit"], tags["paved.pipeline_run"]) == ("c0ffee", "run-1")
    assert tags["paved.model_version"] == "ml/churn-v1"
    assert tags["paved.gates"] == "1/1 passed"
    assert json.loads(tags["paved.parameters"])["seed"] == 42


def test_the_verdict_is_written_with_its_evidence() -> None:
    step = decide(
        SUBJECT,
        SPEC,
        SUCCEEDED,
        seen=_seen(version=_version(Stage.STAGING), outcome=PASSED),
        now=NOW,
    )
    assert isinstance(step, Report)
    updates = step.updates
    assert (updates["stage"], updates["gates_summary"]) == (Stage.STAGING, "1/1 passed")
    assert updates["registry"] == RegistryEntry(
        name="ml.churn", version="3", uri="models:/ml.churn/3", run_id="mlrun-1"
    )
    assert updates["lineage"].feature_views[0].version == "fv-7"
    # Each slice's metric at training: what a monitor judges the live slice against.
    assert updates["lineage"].slice_metrics == {"new_users": 0.78}
    assert [(g.name, g.verdict, g.value) for g in updates["gates"]] == [
        ("metric:auc", "pass", 0.81)
    ]
    trained = next(o for o in step.observed if o.type == "Trained")
    assert trained.message == "ml.churn version 3 from run run-1."


def test_a_held_version_names_the_failing_gate() -> None:
    step = decide(
        SUBJECT,
        SPEC,
        SUCCEEDED,
        seen=_seen(version=_version(Stage.TRAINED), outcome=FAILED),
        now=NOW,
    )
    assert isinstance(step, Report)
    gates = next(o for o in step.observed if o.type == "GatesPassed")
    assert gates.message == "slice new_users: auc worse by 0.05"
    assert step.updates["gates_summary"] == "1/2 passed, 1 failed"


THIN = {
    "gate": "slice:retirees",
    "verdict": "inconclusive",
    "reason": "InsufficientSupport",
    "message": "slice retirees: 24 rows < minimum 50; not judged",
    "value": 24.0,
    "threshold": 50.0,
}


def test_an_inconclusive_gate_is_named_in_the_condition_and_the_column_alike() -> None:
    step = decide(
        SUBJECT,
        SPEC,
        SUCCEEDED,
        seen=_seen(version=_version(Stage.STAGING), outcome=_outcome(PASS, THIN)),
        now=NOW,
    )
    assert isinstance(step, Report)
    gates = next(o for o in step.observed if o.type == "GatesPassed")
    assert gates.status == "True"
    assert "All" not in gates.message
    assert gates.message == (
        "1/2 gates pass, none fails; "
        "inconclusive: slice retirees: 24 rows < minimum 50; not judged."
    )
    assert step.updates["gates_summary"] == "1/2 passed, 1 inconclusive"


def test_evaluating_says_the_model_is_trained_and_the_run_goes_on() -> None:
    run = PipelineRun("run-1", RunState.RUNNING, finished_tasks=frozenset({"prepare", "train"}))
    step = decide(SUBJECT, SPEC, TRAINING, seen=_seen(run=run), now=NOW)
    assert isinstance(step, Report)
    assert step.updates["run"] == _run("Running")
    (trained,) = (o for o in step.observed if o.type == "Trained")
    assert trained.message.startswith("Run run-1 has trained the model and is evaluating it")


def test_a_run_is_recorded_when_it_starts_and_when_it_finishes() -> None:
    started = decide(
        SUBJECT, SPEC, _status(), seen=_seen(run=PipelineRun("run-1", RunState.PENDING)), now=NOW
    )
    assert isinstance(started, Report)
    assert started.updates["run"] == RunRecord(id="run-1", key=KEY, state="Pending", started_at=NOW)
    ended = PipelineRun("run-1", RunState.FAILED, error="OOMKilled")
    failed = decide(SUBJECT, SPEC, TRAINING, seen=_seen(run=ended), now=NOW)
    assert isinstance(failed, Report)
    assert failed.updates["run"] == RunRecord(
        id="run-1", key=KEY, state="Failed", started_at=EARLIER, finished_at=NOW
    )
    (trained,) = (o for o in failed.observed if o.type == "Trained")
    assert trained.message == "Run run-1 failed: OOMKilled"


def test_a_new_training_input_clears_the_previous_verdict() -> None:
    step = decide(
        SUBJECT,
        SPEC,
        RECORDED.model_copy(update={"run": _run(key="uid-1-old")}),
        seen=_seen(run=PipelineRun("run-2", RunState.PENDING)),
        now=NOW,
    )
    assert isinstance(step, Report)
    assert {k: step.updates[k] for k in ("stage", "registry", "gates", "gates_summary")} == {
        "stage": None,
        "registry": None,
        "gates": [],
        "gates_summary": None,
    }


def test_the_registry_outage_is_reported_with_its_message_and_next_attempt() -> None:
    seen = _seen(version=Version(None), outcome=PASSED, unavailable=DOWN)
    step = decide(SUBJECT, SPEC, SUCCEEDED, seen=seen, now=NOW)
    assert isinstance(step, Report)
    (trained,) = (o for o in step.observed if o.type == "Trained")
    assert trained.message == f"{DOWN.message}; next attempt in 20 s."
    assert (step.retry_after_seconds, step.retry_reason) == (20, trained.message)


def test_a_sign_off_is_recorded_in_the_registry_once() -> None:
    signed = _signed()
    step = decide(SUBJECT, signed, RECORDED, seen=_seen(version=_version(Stage.STAGING)), now=NOW)
    assert step == RecordSignOff("3", ApprovalRecord(by="alice", at=NOW, comment="AUC holds"))
    recorded = _version(Stage.STAGING, **{APPROVED_BY_TAG: "alice"})
    assert _briefly(decide(SUBJECT, signed, RECORDED, seen=_seen(version=recorded), now=NOW)) == (
        ModelVersionPhase.STAGING,
        (),
        None,
    )


def test_a_sign_off_keeps_its_time_while_the_approver_stays() -> None:
    before = RECORDED.model_copy(update={"approval": ApprovalRecord(by="alice", at=EARLIER)})
    recorded = _version(Stage.STAGING, **{APPROVED_BY_TAG: "alice"})
    same = decide(SUBJECT, _signed("alice"), before, seen=_seen(version=recorded), now=NOW)
    assert isinstance(same, Report)
    assert same.updates["approval"].at == EARLIER
    other = decide(SUBJECT, _signed("bob"), before, seen=_seen(version=recorded), now=NOW)
    assert other == RecordSignOff("3", ApprovalRecord(by="bob", at=NOW, comment="AUC holds"))


def test_a_sign_off_arriving_during_an_outage_waits_without_touching_the_verdict() -> None:
    seen = _seen(version=_version(Stage.STAGING), unavailable=DOWN)
    step = decide(SUBJECT, _signed(), RECORDED, seen=seen, now=NOW)
    assert isinstance(step, Report)
    assert "phase" not in step.updates
    assert [o.type for o in step.observed] == ["Accepted", "Approved", "PolicySatisfied"]
    assert step.retry_after_seconds == 20


@pytest.mark.parametrize(
    "compiled",
    sorted((ROOT / "pipelines" / "paved_pipelines" / "compiled").glob("*.yaml")),
    ids=lambda p: p.stem,
)
def test_every_pipeline_fits_its_model_in_the_training_task(compiled: Any) -> None:
    """Evaluating begins when the runner reports this task finished: it must be the one task
    that outputs the model."""
    # The pipeline spec, then the platform spec (what each task's Pod gets on Kubernetes).
    pipeline = next(yaml.safe_load_all(compiled.read_text()))
    tasks = pipeline["root"]["dag"]["tasks"]

    def outputs_a_model(task: dict[str, Any]) -> bool:
        component = pipeline["components"][task["componentRef"]["name"]]
        artifacts = component.get("outputDefinitions", {}).get("artifacts", {}).values()
        return any(a["artifactType"]["schemaTitle"] == "system.Model" for a in artifacts)

    assert [name for name, task in tasks.items() if outputs_a_model(task)] == [TRAINING_TASK]


# -- a team's compiled pipeline (ADR 0037): read, checked against the contract, then started --

TEAM_IR = (ROOT / "examples" / "team-pipeline" / "churn-lgbm.yaml").read_text()
TEAM_SOURCE = "ConfigMap churn-lgbm key pipeline.yaml"


def _team_spec() -> ModelVersionSpec:
    document = SPEC.model_dump(by_alias=True, mode="json", exclude_none=True)
    document["pipeline"] = {"compiled": {"configMap": "churn-lgbm"}, "seed": 7}
    return ModelVersionSpec.model_validate(document)


def _decide_team(seen: Seen) -> Step:
    return decide(SUBJECT, _team_spec(), _status(), seen=seen, now=NOW)


def test_a_team_pipeline_is_read_before_a_run_starts() -> None:
    assert _decide_team(_seen()) == ReadPipeline("churn-lgbm", "pipeline.yaml")


def test_a_team_pipeline_that_meets_the_contract_starts_with_its_ir() -> None:
    step = _decide_team(_seen(pipeline=PipelineText(TEAM_SOURCE, TEAM_IR)))
    key = run_key(SUBJECT.uid, _team_spec(), namespace=SUBJECT.namespace)
    assert step == StartRun(key, CompiledIR(TEAM_SOURCE, TEAM_IR))


def test_a_team_pipeline_without_an_output_starts_no_run_and_names_the_output() -> None:
    broken = TEAM_IR.replace("evaluation:", "held_out:")
    step = _decide_team(_seen(pipeline=PipelineText(TEAM_SOURCE, broken)))
    assert isinstance(step, Report)
    assert _briefly(step)[:2] == (
        ModelVersionPhase.PENDING,
        (
            ("GatesPassed", "Unknown", "NotEvaluated"),
            ("Trained", "False", "PipelineContractBroken"),
        ),
    )
    (trained,) = (o for o in step.observed if o.type == "Trained")
    assert "missing output evaluation (system.Dataset" in trained.message
    assert step.updates.get("run") is None  # nothing started


def test_a_missing_configmap_keeps_it_pending_saying_so() -> None:
    missing = PipelineMissing(TEAM_SOURCE, "no ConfigMap churn-lgbm in ml")
    step = _decide_team(_seen(pipeline=missing))
    assert isinstance(step, Report)
    (trained,) = (o for o in step.observed if o.type == "Trained")
    assert (step.updates["phase"], trained.reason) == (
        ModelVersionPhase.PENDING,
        ModelVersionReason.PIPELINE_NOT_FOUND,
    )


def test_a_package_pipeline_starts_by_its_path_and_a_built_in_one_keeps_its_run_key() -> None:
    document = SPEC.model_dump(by_alias=True, mode="json", exclude_none=True)
    document["pipeline"] = {"package": "team_pipelines.churn.pipeline"}
    spec = ModelVersionSpec.model_validate(document)
    step = decide(SUBJECT, spec, _status(), seen=_seen(), now=NOW)
    assert step == StartRun(
        run_key(SUBJECT.uid, spec, namespace=SUBJECT.namespace),
        PackagePipeline("team_pipelines.churn.pipeline"),
    )
    # The key of the example, as it was before pipelines by reference: no built-in retrains.
    assert KEY == "ml.uid-1-6a8349563e89"
