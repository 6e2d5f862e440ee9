"""ModelVersion: train once per generation, register with lineage, gate, stage, record sign-off.

A timer drives it (level-triggered): each tick observes the run and the registry and writes
what it saw. Restarts are harmless: the run and the registry entry are found by key, never
started or created twice.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import BaseModel, ValidationError

from paved.api.crds import MODEL_VERSION
from paved.api.feature_view import FeatureViewSpec
from paved.api.model_version import (
    ApprovalRecord,
    GateResult,
    Lineage,
    ModelVersionSpec,
    ModelVersionStatus,
    Phase,
    PipelineRun,
    RegistryEntry,
    Stage,
)
from paved.controllers._kopf import Reconciled, Resource, timer
from paved.controllers.acceptance import check_references
from paved.core.conditions import Observation
from paved.core.gates import GateVerdict, Verdict, summary
from paved.core.model_lifecycle import Evidence, Refusal, transition
from paved.core.model_versions import (
    TRAINED,
    approval_condition,
    gates_condition,
    phase_for_stage,
    run_key,
)
from paved.ports import Ports
from paved.ports.pipelines import TERMINAL, RunState
from paved.ports.registry import APPROVED_BY_TAG


class TrainingOutcome(BaseModel):
    """What the pipeline returns (its output parameter), validated on arrival."""

    mlflowRunId: str  # noqa: N815 (the pipeline's JSON field)
    passed: bool
    metrics: dict[str, float]
    sliceMetrics: dict[str, float]  # noqa: N815
    verdicts: list[dict[str, Any]]
    lineage: dict[str, Any]


async def _training_request(resource: Resource, ports: Ports, key: str) -> str | None:
    """The run's input document, or None while a FeatureView it needs does not exist."""
    spec: ModelVersionSpec = resource.spec
    views: dict[str, Any] = {}
    for selection in spec.features:
        found = await ports.cluster.get_paved(
            "FeatureView", resource.namespace, selection.feature_view
        )
        if found is None:
            return None
        views[selection.feature_view] = FeatureViewSpec.model_validate(found["spec"]).model_dump(
            by_alias=True, mode="json"
        )
    production = await ports.registry.in_stage(spec.model, Stage.PRODUCTION)
    reference = None
    if production is not None:
        reference = {
            "version": production.version,
            "metrics": {k: v for k, v in production.metrics.items() if "." not in k},
            "slice_metrics": {
                k.removeprefix("slice."): v
                for k, v in production.metrics.items()
                if k.startswith("slice.")
            },
            "training_data_uri": f"runs:/{production.run_id}/training-data/features.parquet",
        }
    return json.dumps(
        {
            "run_key": key,
            "model": spec.model,
            "namespace": resource.namespace,
            "model_version": resource.name,
            "feature_views": views,
            "features": [s.model_dump(by_alias=True) for s in spec.features],
            "labels": spec.labels.model_dump(by_alias=True),
            "data_root": ports.data_root,
            "parameters": spec.pipeline.parameters,
            "seed": spec.pipeline.seed,
            "gates": spec.gates.model_dump(by_alias=True, mode="json"),
            "production": reference,
            "code_commit": ports.code_commit,
        }
    )


def _verdicts(outcome: TrainingOutcome) -> list[GateVerdict]:
    return [
        GateVerdict(
            gate=v["gate"],
            verdict=Verdict(v["verdict"]),
            reason=v["reason"],
            message=v["message"],
            value=v.get("value"),
            threshold=v.get("threshold"),
        )
        for v in outcome.verdicts
    ]


@timer(MODEL_VERSION)
async def train_and_promote(resource: Resource, ports: Ports, now: dt.datetime) -> Reconciled:
    spec: ModelVersionSpec = resource.spec
    status = resource.status
    assert isinstance(status, ModelVersionStatus)
    key = run_key(resource.uid, spec)
    accepted = await check_references(resource, ports)
    if accepted.status != "True":
        return Reconciled([accepted], status_updates={"phase": Phase.PENDING})
    observed: list[Observation] = [accepted]
    updates: dict[str, Any] = {}
    sign_off = spec.approval.sign_off
    if sign_off is not None:
        previous = status.approval
        at = previous.at if previous and previous.by == sign_off.by else now
        updates["approval"] = ApprovalRecord(by=sign_off.by, at=at, comment=sign_off.comment)
    observed.append(approval_condition(spec.approval.required, sign_off.by if sign_off else None))

    run = status.run
    if run is None or run.key != key:
        request = await _training_request(resource, ports, key)
        if request is None:
            observed.append(
                Observation(
                    TRAINED,
                    "Unknown",
                    "WaitingForFeatureViews",
                    "A FeatureView this model needs does not exist yet.",
                )
            )
            return Reconciled(observed, status_updates=updates | {"phase": Phase.PENDING})
        started = await ports.runner.start(key, spec.pipeline.name, request)
        updates |= {
            "phase": Phase.TRAINING,
            "run": PipelineRun(id=started.id, key=key, state=started.state.value, started_at=now),
        }
        observed.append(Observation(TRAINED, "Unknown", "Training", f"Run {started.id} started."))
        return Reconciled(observed, status_updates=updates)

    current = await ports.runner.get(run.id)
    if current.state not in TERMINAL:
        observed.append(
            Observation(TRAINED, "Unknown", "Training", f"Run {run.id} is {current.state}.")
        )
        run_update = run.model_copy(update={"state": current.state.value})
        return Reconciled(
            observed, status_updates=updates | {"phase": Phase.TRAINING, "run": run_update}
        )
    finished = run.model_copy(
        update={"state": current.state.value, "finished_at": run.finished_at or now}
    )
    if current.state is not RunState.SUCCEEDED:
        observed.append(
            Observation(
                TRAINED,
                "False",
                f"Pipeline{current.state.value}",
                f"Run {run.id} {current.state.value.lower()}: {current.error or 'no detail'}",
            )
        )
        return Reconciled(
            observed, status_updates=updates | {"phase": Phase.FAILED, "run": finished}
        )
    # KFP's API returns no output parameters; the run logged its outcome to MLflow too.
    document = current.output or await ports.registry.training_outcome(spec.model, key)
    try:
        outcome = TrainingOutcome.model_validate_json(document or "")
    except ValidationError as error:
        observed.append(Observation(TRAINED, "False", "UnreadableOutcome", str(error)))
        return Reconciled(
            observed, status_updates=updates | {"phase": Phase.FAILED, "run": finished}
        )

    verdicts = _verdicts(outcome)
    lineage_tags = {
        "paved.dataset_hash": str(outcome.lineage.get("datasetHash", "")),
        "paved.feature_views": json.dumps(outcome.lineage.get("featureViews", {}), sort_keys=True),
        "paved.code_commit": ports.code_commit,
        "paved.pipeline_run": run.id,
        "paved.model_version": f"{resource.namespace}/{resource.name}",
        "paved.gates": summary(verdicts),
        "paved.gate_results": json.dumps(outcome.verdicts, sort_keys=True)[:5000],
        "paved.parameters": json.dumps(
            spec.pipeline.parameters | {"seed": spec.pipeline.seed}, sort_keys=True
        ),
        "paved.metrics": json.dumps(outcome.metrics, sort_keys=True),
    }
    registered = await ports.registry.register(spec.model, outcome.mlflowRunId, key, lineage_tags)
    approval = updates.get("approval")
    if isinstance(approval, ApprovalRecord) and registered.tags.get(APPROVED_BY_TAG) != approval.by:
        # The registry is the compliance record: who approved what, and when.
        await ports.registry.record_sign_off(
            spec.model, registered.version, approval.by, approval.at.isoformat(), approval.comment
        )
    stage = registered.stage
    if stage is Stage.TRAINED:
        decision = transition(
            Stage.TRAINED,
            Stage.STAGING,
            Evidence(outcome.passed, tuple(v.gate for v in verdicts if v.verdict is Verdict.FAIL)),
        )
        if not isinstance(decision, Refusal):
            await ports.registry.set_stage(spec.model, registered.version, Stage.STAGING)
            stage = Stage.STAGING
    observed.append(
        Observation(
            TRAINED,
            "True",
            "Registered",
            f"{spec.model} version {registered.version} from run {run.id}.",
        )
    )
    observed.append(gates_condition(verdicts))
    updates |= {
        "phase": phase_for_stage(stage),
        "stage": stage,
        "run": finished,
        "registry": RegistryEntry(
            name=spec.model,
            version=registered.version,
            uri=registered.uri,
            run_id=outcome.mlflowRunId,
        ),
        "lineage": Lineage(
            dataset_hash=outcome.lineage.get("datasetHash"),
            feature_views=[
                {"name": n, "version": v}
                for n, v in outcome.lineage.get("featureViews", {}).items()
            ],
            code_commit=ports.code_commit,
            parameters=spec.pipeline.parameters | {"seed": spec.pipeline.seed},
            metrics=outcome.metrics,
        ),
        "gates": [
            GateResult(
                name=v.gate,
                verdict=v.verdict.value,
                value=v.value,
                threshold=v.threshold,
                message=v.message,
            )
            for v in verdicts
        ],
        "gates_summary": summary(verdicts),
    }
    return Reconciled(observed, status_updates=updates)
