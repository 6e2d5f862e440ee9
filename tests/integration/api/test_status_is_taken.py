"""A status the operator can write is one the API server takes: every field set, at its
bounds. A status patch the API server refuses stops kopf's timer for that object without a word
(it happened: a `maximum` of 2**63 - 1 made every Rollout status with an experiment invalid)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from paved.api.feature_view import FeatureFreshness, FeatureViewStatus, MaterializationRun
from paved.api.meta import MESSAGE_MAX_LENGTH, Condition
from paved.api.model_version import (
    ApprovalRecord,
    GateResult,
    Lineage,
    ModelVersionPhase,
    ModelVersionStatus,
    RegistryEntry,
    RunRecord,
    Stage,
)
from paved.api.rollout import Experiment, GuardrailResult, RolloutPhase, RolloutStatus, TrafficSplit
from paved.controllers._kopf import status_patch
from tests.support.kubectl import Kubectl

ROOT = Path(__file__).resolve().parents[3]
AT = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
LONG = "x" * 100_000  # truncated to each field's maximum, with a marker
CONDITIONS = [
    Condition(
        type="Progressing",
        status="False",
        reason="ReconcileError",
        message=LONG,
        last_transition_time=AT,
        observed_generation=1,
    )
]

pytestmark = pytest.mark.usefixtures("paved_crds")


def _statuses() -> dict[str, tuple[str, str, BaseModel]]:
    rollout = RolloutStatus(
        observed_generation=1,
        conditions=CONDITIONS,
        phase=RolloutPhase.PROGRESSING,
        current_step=2,
        current_step_kind="abTest",
        step_started_at=AT,
        traffic=TrafficSplit(baseline=50, candidate=50),
        analysis=[
            GuardrailResult(
                guardrail="errorRate",
                verdict="breach",
                at=AT,
                message=LONG,
                value=None,
                threshold=0.01,
            )
        ],
        experiment=Experiment(
            outcome="noDifference",
            effect=0.0,
            low=-1.0,
            high=1.0,
            p_value=1.0,
            samples_baseline=0,
            samples_candidate=3,
            required_per_arm=10**12,
            at=AT,
        ),
        last_analysis_at=AT,
        breaches=3,
        no_data_since=AT,
        candidate_model=LONG,
        resumed=LONG,
        promoted=LONG,
        next_check_at=AT,
        requests_seen=LONG,
        message=LONG,
    )
    model_version = ModelVersionStatus(
        observed_generation=1,
        conditions=CONDITIONS,
        phase=ModelVersionPhase.HELD,
        stage=Stage.TRAINED,
        run=RunRecord(id=LONG, key=LONG, state=LONG, started_at=AT, finished_at=AT),
        registry=RegistryEntry(name=LONG, version=LONG, uri=LONG, run_id=LONG),
        lineage=Lineage(
            dataset_hash=LONG, code_commit=LONG, parameters={"depth": 4}, metrics={"auc": 0.8}
        ),
        gates=[GateResult(name=LONG, verdict=LONG, value=None, threshold=0.7, message=LONG)],
        gates_summary=LONG,
        approval=ApprovalRecord(by=LONG, at=AT, comment=LONG),
    )
    feature_view = FeatureViewStatus(
        observed_generation=1,
        conditions=CONDITIONS,
        version=LONG,
        watermark=AT,
        created_watermark=AT,
        last_materialization=MaterializationRun(at=AT, rows=1, seconds=0.1),
        freshness=[
            FeatureFreshness(feature="clicks_7d", lag_seconds=None, slo_seconds=600, ok=False)
        ],
        freshness_summary=LONG,
    )
    return {
        "Rollout": ("examples/03-rollout.yaml", "rollout.paved.dev/churn-v1", rollout),
        "ModelVersion": (
            "examples/02-modelversion.yaml",
            "modelversion.paved.dev/churn-v1",
            model_version,
        ),
        "FeatureView": (
            "examples/01-featureview.yaml",
            "featureview.paved.dev/user-activity-v1",
            feature_view,
        ),
    }


@pytest.mark.parametrize("kind", ["Rollout", "ModelVersion", "FeatureView"])
def test_a_status_with_every_field_at_its_bound_is_taken(
    kind: str, kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    manifest, name, status = _statuses()[kind]
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / manifest))
    assert isinstance(status, RolloutStatus | ModelVersionStatus | FeatureViewStatus)
    patch = tmp_path / "status.json"
    patch.write_text(json.dumps({"status": status_patch(type(status)(), status)}, allow_nan=False))
    kubectl.run(
        "patch",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        f"--patch-file={patch}",
    )
    stored = kubectl.get_json(name, "-n", namespace)["status"]
    assert type(status).model_validate(stored) == status
    assert len(stored["conditions"][0]["message"]) == MESSAGE_MAX_LENGTH
