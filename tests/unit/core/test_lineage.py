"""`paved lineage` assembles a served model's evidence chain from what was read, in order, and
says a missing link is missing rather than printing a chain that looks whole."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus
from paved.api.model_version import (
    ApprovalRecord,
    FeatureViewVersion,
    GateResult,
    Lineage,
    ModelVersionSpec,
    ModelVersionStatus,
    RegistryEntry,
    RunRecord,
    SignOff,
    Stage,
    UpstreamModels,
)
from paved.api.rollout import GuardrailResult, RolloutPhase, RolloutStatus
from paved.core.lineage import (
    Arm,
    Facts,
    FeatureViewFacts,
    LinkKind,
    ModelVersionFacts,
    RolloutFacts,
    ServingFacts,
    SubjectKind,
    as_json,
    chain,
    parse_subject,
    render,
)
from paved.core.model_versions import APPROVED_BY_TAG, RegisteredVersion
from paved.core.promotion_policy import Authors, gates_digest
from paved.core.registry_memory import revert_record, rollout_tag
from tests.support.training import example

AT = dt.datetime(2026, 12, 5, 6, 0, tzinfo=dt.UTC)
URI = "models:/ml.churn/2"
GATES = [GateResult(name="metric:auc", verdict="pass", value=0.81, threshold=0.78, message="ok")]


def _model_version(*, signed: bool = True) -> ModelVersionFacts:
    spec = ModelVersionSpec.model_validate(example("02-modelversion.yaml")["spec"])
    if signed:
        sign_off = SignOff(
            by="carol",
            registry_version="2",
            gates_digest=gates_digest(GATES),
            groups=["ml-approvers"],
        )
        spec = spec.model_copy(
            update={"approval": spec.approval.model_copy(update={"sign_off": sign_off})}
        )
    status = ModelVersionStatus(
        stage=Stage.PRODUCTION,
        run=RunRecord(id="run-7", key="ml.uid-abc", state="Succeeded"),
        registry=RegistryEntry(name="ml.churn", version="2", uri=URI, run_id="mlflow-7"),
        lineage=Lineage(
            dataset_hash="sha256:d4t4",
            feature_views=[FeatureViewVersion(name="customer-activity", version="fv-9")],
        ),
        gates=GATES,
        gates_summary="1/1 passed",
        gates_digest=gates_digest(GATES),
        approval=ApprovalRecord(by="carol", at=AT, comment="fit") if signed else None,
    )
    return ModelVersionFacts("churn-v2", spec, status, Authors("alice", "alice"))


def _facts(model_version: ModelVersionFacts | None = None) -> Facts:
    view = FeatureViewSpec.model_validate(example("01-featureview.yaml")["spec"])
    rollout = RolloutStatus(
        phase=RolloutPhase.SUCCEEDED,
        analysis=[
            GuardrailResult(
                guardrail="errorRate", value=0.01, threshold=0.05, verdict="pass", at=AT
            )
        ],
    )
    registered = RegisteredVersion(
        "ml.churn",
        "2",
        "mlflow-7",
        URI,
        Stage.PRODUCTION,
        {APPROVED_BY_TAG: "carol", rollout_tag("churn-v2"): json.dumps({"outcome": "Succeeded"})},
    )
    return Facts(
        "SeldonDeployment ml/churn",
        ServingFacts("SeldonDeployment ml/churn", [Arm("baseline", URI, 100)]),
        [RolloutFacts("churn-v2", "churn-v2", rollout)],
        model_version or _model_version(),
        registered,
        {
            "customer-activity": FeatureViewFacts(
                view, FeatureViewStatus(version="fv-9", watermark=AT)
            )
        },
    )


def test_every_link_is_there_in_order_with_its_numbers() -> None:
    found = chain(_facts())

    assert [link.kind for link in found.links] == list(LinkKind)
    assert found.missing == ()
    text = render(found)
    assert "baseline: 100% → models:/ml.churn/2" in text
    assert "errorRate pass: 0.01 vs 0.05" in text
    assert "ml.churn version 2, Production (ModelVersion churn-v2)" in text
    assert "by carol at 2026-12-05T06:00:00+00:00" in text
    assert "created by alice" in text
    assert "metric:auc pass: value 0.81, threshold 0.78" in text
    assert "run run-7: Succeeded" in text
    assert "sha256:d4t4" in text
    assert "customer-activity version fv-9" in text
    assert "event watermark 2026-12-05T06:00:00+00:00" in text
    assert text.endswith("complete: every link is present")


def test_a_missing_sign_off_is_said_missing_and_the_chain_is_not_whole() -> None:
    found = chain(_facts(_model_version(signed=False)))

    assert [link.kind for link in found.missing] == [LinkKind.SIGN_OFF]
    assert "MISSING: ModelVersion churn-v2 has no sign-off" in render(found)
    assert "INCOMPLETE: 1 link(s) missing: signOff" in render(found)
    document = as_json(found)
    assert document["complete"] is False
    assert json.loads(json.dumps(document, default=str))["links"][3]["missing"] is True


def test_a_sign_off_by_the_author_is_no_link() -> None:
    mv = _model_version()
    by_author = dataclasses.replace(mv, authors=Authors("carol", "carol"))

    found = chain(_facts(by_author))

    assert [link.kind for link in found.missing] == [LinkKind.SIGN_OFF]
    assert "carol created or last changed" in render(found)


def test_nothing_serving_and_no_registry_version_are_both_said() -> None:
    found = chain(dataclasses.replace(_facts(), serving=None, registered=None))

    assert {link.kind for link in found.missing} == {LinkKind.TRAFFIC, LinkKind.REGISTRY_VERSION}


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("seldondeployment/churn", SubjectKind.SELDON_DEPLOYMENT),
        ("SeldonDeployment/churn", SubjectKind.SELDON_DEPLOYMENT),
        ("isvc/churn", SubjectKind.INFERENCE_SERVICE),
        ("modelversions.paved.dev/churn", SubjectKind.MODEL_VERSION),
    ],
)
def test_subjects_are_spelled_as_kubectl_spells_them(text: str, kind: SubjectKind) -> None:
    assert parse_subject(text) == (kind, "churn")


def test_a_bad_subject_says_what_is_expected() -> None:
    said = parse_subject("deployment/churn")
    assert isinstance(said, str)
    assert "SeldonDeployment, InferenceService, ModelVersion" in said


def test_a_model_version_no_longer_served_has_no_traffic_link() -> None:
    reverted = dataclasses.replace(_facts(), model_uri="models:/ml.churn/3")

    found = chain(reverted)

    assert [link.kind for link in found.missing] == [LinkKind.TRAFFIC]
    assert "does not serve models:/ml.churn/3 now" in render(found)


def _restored_by(rollout: str, reverts: list[RolloutFacts]) -> Facts:
    """Version 2 put back by `rollout`'s revert, as the registry records it; no Rollout had
    it as candidate (it first served without one)."""
    facts = _facts()
    assert facts.registered is not None
    record = revert_record(
        rollout=rollout, reason="AUC fell", at=AT, other_version="3", restored=True
    )
    registered = dataclasses.replace(facts.registered, tags={**facts.registered.tags, **record})
    return dataclasses.replace(facts, rollouts=[], registered=registered, reverts=reverts)


def test_a_version_a_revert_put_back_is_brought_to_its_traffic_by_that_rollout() -> None:
    reverted = RolloutStatus(phase=RolloutPhase.ROLLED_BACK, reverted="AUC fell")

    found = chain(_restored_by("churn-v3", [RolloutFacts("churn-v3", "churn-v3", reverted)]))

    assert found.missing == ()
    assert "churn-v3 (candidate churn-v3): RolledBack, its revert put this version back" in (
        render(found)
    )


def test_a_revert_the_registry_does_not_name_brings_nothing_back() -> None:
    other = RolloutFacts("churn-v9", "churn-v9", RolloutStatus(phase=RolloutPhase.ROLLED_BACK))

    found = chain(_restored_by("churn-v3", [other]))

    assert [link.kind for link in found.missing] == [LinkKind.ROLLOUTS]


def test_a_hybrids_batch_prediction_is_named_with_the_models_whose_scores_it_read() -> None:
    hybrid = _model_version()
    assert hybrid.status.lineage is not None
    lineage = hybrid.status.lineage.model_copy(
        update={
            "feature_views": [
                *hybrid.status.lineage.feature_views,
                FeatureViewVersion(name="churn-scores", version="pv-3"),
            ],
            "upstream_models": [
                UpstreamModels(batch_prediction="churn-scores", model_versions=["ml.churn/4"])
            ],
        }
    )
    status = hybrid.status.model_copy(update={"lineage": lineage})

    found = chain(_facts(dataclasses.replace(hybrid, status=status)))

    assert found.missing == ()  # no FeatureView churn-scores is looked for, nor said gone
    text = render(found)
    assert "churn-scores (BatchPrediction) version pv-3: scores of ml.churn/4" in text
    (views,) = (link for link in found.links if link.kind is LinkKind.FEATURE_VIEWS)
    assert views.data["upstreamModels"] == [
        {"batchPrediction": "churn-scores", "modelVersions": ["ml.churn/4"]}
    ]
