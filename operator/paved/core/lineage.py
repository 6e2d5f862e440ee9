"""A served model's evidence chain, from the traffic it takes now back to the data it was
trained on: traffic → Rollouts and their analyses → registry version → sign-off → gates →
pipeline run → dataset hash → FeatureView versions → sources and watermarks.

Pure: `chain` assembles what an adapter read (the cluster's objects, the registry's version)
into links, in that order. A link whose evidence is not there is a `missing` link that says what
is missing; a chain is complete only when no link is missing (never one that looks whole).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final, assert_never

from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus
from paved.api.model_version import FeatureViewVersion, ModelVersionSpec, ModelVersionStatus
from paved.api.rollout import RolloutStatus
from paved.core.model_versions import APPROVED_BY_TAG, RegisteredVersion
from paved.core.promotion_policy import Authors, sign_off_verdict
from paved.core.registry_memory import RESTORED_TAG, ROLLOUT_TAG_PREFIX, parsed


class SubjectKind(StrEnum):
    """What `paved lineage <kind>/<name>` starts from."""

    SELDON_DEPLOYMENT = "SeldonDeployment"
    INFERENCE_SERVICE = "InferenceService"
    MODEL_VERSION = "ModelVersion"


_SPELLINGS: Final = {
    "seldondeployment": SubjectKind.SELDON_DEPLOYMENT,
    "seldondeployments": SubjectKind.SELDON_DEPLOYMENT,
    "sdep": SubjectKind.SELDON_DEPLOYMENT,
    "inferenceservice": SubjectKind.INFERENCE_SERVICE,
    "inferenceservices": SubjectKind.INFERENCE_SERVICE,
    "isvc": SubjectKind.INFERENCE_SERVICE,
    "modelversion": SubjectKind.MODEL_VERSION,
    "modelversions": SubjectKind.MODEL_VERSION,
    "mv": SubjectKind.MODEL_VERSION,
}


def parse_subject(text: str) -> tuple[SubjectKind, str] | str:
    """`kind/name` as kubectl spells it; a string says what is wrong with it."""
    kind, _, name = text.partition("/")
    found = _SPELLINGS.get(kind.lower().split(".")[0])
    if found is None or not name:
        kinds = ", ".join(k.value for k in SubjectKind)
        return f"expected <kind>/<name> with kind one of {kinds}; got {text!r}"
    return found, name


class LinkKind(StrEnum):
    TRAFFIC = "traffic"
    ROLLOUTS = "rollouts"
    REGISTRY_VERSION = "registryVersion"
    SIGN_OFF = "signOff"
    GATES = "gates"
    PIPELINE_RUN = "pipelineRun"
    DATASET = "dataset"
    FEATURE_VIEWS = "featureViews"
    SOURCES = "sources"


@dataclass(frozen=True)
class Arm:
    name: str
    model_uri: str  # its storage URI
    weight: int
    # The registry version the serving object names beside the URI (its annotations), if any.
    registered: tuple[str, str] | None = None


@dataclass(frozen=True)
class ServingFacts:
    described: str  # "SeldonDeployment churn"
    arms: Sequence[Arm]


@dataclass(frozen=True)
class RolloutFacts:
    name: str
    candidate: str
    status: RolloutStatus


@dataclass(frozen=True)
class ModelVersionFacts:
    name: str
    spec: ModelVersionSpec
    status: ModelVersionStatus
    authors: Authors  # as the API server recorded them


@dataclass(frozen=True)
class FeatureViewFacts:
    spec: FeatureViewSpec
    status: FeatureViewStatus


@dataclass(frozen=True)
class Facts:
    """What an adapter read, live. None: not found (the chain says so)."""

    subject: str  # what the chain was asked for, e.g. "SeldonDeployment ml/churn"
    serving: ServingFacts | None
    rollouts: Sequence[RolloutFacts]
    model_version: ModelVersionFacts | None
    registered: RegisteredVersion | None
    feature_views: Mapping[str, FeatureViewFacts | None] = field(default_factory=dict)
    model_uri: str | None = None  # the model the chain follows; None: the baseline's
    # Rollouts on the target that carried out a revert: the one the registry names as having
    # put this version back is a Rollout that brought it to its traffic.
    reverts: Sequence[RolloutFacts] = ()


@dataclass(frozen=True)
class Link:
    kind: LinkKind
    summary: str  # what it is; for a missing link, what is missing
    details: tuple[str, ...] = ()
    missing: bool = False
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chain:
    subject: str
    links: tuple[Link, ...]

    @property
    def missing(self) -> tuple[Link, ...]:
        return tuple(link for link in self.links if link.missing)


def _missing(kind: LinkKind, what: str) -> Link:
    return Link(kind, f"MISSING: {what}", missing=True)


def chain(facts: Facts) -> Chain:
    """Every link in order; each one present or said missing."""
    return Chain(facts.subject, tuple(_link(kind, facts) for kind in LinkKind))


def _link(kind: LinkKind, facts: Facts) -> Link:
    mv = facts.model_version
    match kind:
        case LinkKind.TRAFFIC:
            return _traffic(facts.serving, facts.model_uri)
        case LinkKind.ROLLOUTS:
            return _rollouts(facts.rollouts, facts.registered, _restoring(facts))
        case LinkKind.REGISTRY_VERSION:
            return _registry(facts.registered, mv)
        case LinkKind.SIGN_OFF:
            return _sign_off(mv, facts.registered)
        case LinkKind.GATES:
            return _gates(mv)
        case LinkKind.PIPELINE_RUN:
            return _run(mv)
        case LinkKind.DATASET:
            return _dataset(mv)
        case LinkKind.FEATURE_VIEWS:
            return _feature_views(mv, facts.feature_views)
        case LinkKind.SOURCES:
            return _sources(facts.feature_views)
        case unreachable:
            assert_never(unreachable)


def _traffic(serving: ServingFacts | None, model_uri: str | None) -> Link:
    if serving is None:
        return _missing(LinkKind.TRAFFIC, "no serving object serves this model")
    if not serving.arms:
        return _missing(LinkKind.TRAFFIC, f"{serving.described} serves no model")
    arms = tuple(f"{a.name}: {a.weight}% → {a.model_uri}" for a in serving.arms)
    data = {"target": serving.described, "arms": [vars(a) for a in serving.arms]}
    serving_it = [a for a in serving.arms if a.model_uri == model_uri and a.weight > 0]
    if model_uri is not None and not serving_it:
        what = f"{serving.described} does not serve {model_uri} now"
        return Link(LinkKind.TRAFFIC, f"MISSING: {what}", arms, missing=True, data=data)
    return Link(LinkKind.TRAFFIC, serving.described, arms, data=data)


def _restoring(facts: Facts) -> tuple[RolloutFacts, dict[str, Any]] | None:
    """The Rollout whose revert put this version back, and the registry's record of it."""
    registered = facts.registered
    record = parsed(registered.tags.get(RESTORED_TAG)) if registered is not None else None
    if record is None:
        return None
    found = next((r for r in facts.reverts if r.name == record.get("rollout")), None)
    return (found, record) if found is not None else None


def _rollout_lines(r: RolloutFacts) -> list[str]:
    s, ab = r.status, r.status.experiment
    lines = [f"{r.name} (candidate {r.candidate}): {s.phase or 'not started'}"]
    lines += [
        f"  {g.guardrail} {g.verdict}: {_number(g.value)} vs {_number(g.threshold)}"
        for g in s.analysis
    ]
    if ab is not None:
        lines.append(f"  A/B {ab.outcome}: effect {ab.effect:+.4f} [{ab.low:+.4f}, {ab.high:+.4f}]")
    return lines


def _rollouts(
    rollouts: Sequence[RolloutFacts],
    registered: RegisteredVersion | None,
    restoring: tuple[RolloutFacts, dict[str, Any]] | None,
) -> Link:
    if not rollouts and restoring is None:
        return _missing(LinkKind.ROLLOUTS, "no Rollout brought this model to its traffic")
    lines: list[str] = []
    data: list[dict[str, Any]] = []
    for r in rollouts:
        lines += _rollout_lines(r)
        data.append({"name": r.name, "candidate": r.candidate, "status": _dump(r.status)})
    if restoring is not None:
        r, record = restoring
        lines.append(
            f"{r.name} (candidate {r.candidate}): {r.status.phase}, its revert put this version "
            f"back at {record.get('at')} ({record.get('reason')})"
        )
        data.append({"name": r.name, "candidate": r.candidate, "restoredThis": record})
    recorded = sorted(
        k for k in (registered.tags if registered else {}) if k.startswith(ROLLOUT_TAG_PREFIX)
    )
    if recorded and registered is not None:
        lines.append("recorded in the registry: " + ", ".join(recorded))
        data.append({"registry": {k: parsed(registered.tags[k]) for k in recorded}})
    count = len(rollouts) + (restoring is not None)
    return Link(LinkKind.ROLLOUTS, f"{count} Rollout(s)", tuple(lines), data={"rollouts": data})


def _registry(registered: RegisteredVersion | None, mv: ModelVersionFacts | None) -> Link:
    if registered is None:
        return _missing(
            LinkKind.REGISTRY_VERSION, "the registry holds no version for the served model"
        )
    owner = f" (ModelVersion {mv.name})" if mv is not None else " (no ModelVersion records it)"
    summary = f"{registered.model} version {registered.version}, {registered.stage.value}{owner}"
    tags = {k: v for k, v in registered.tags.items() if not k.startswith(ROLLOUT_TAG_PREFIX)}
    data = {
        "model": registered.model,
        "version": registered.version,
        "uri": registered.uri,
        "stage": registered.stage.value,
        "tags": tags,
    }
    link = Link(LinkKind.REGISTRY_VERSION, summary, (f"uri {registered.uri}",), data=data)
    return (
        link if mv is not None else Link(link.kind, f"MISSING: {summary}", missing=True, data=data)
    )


def _sign_off(mv: ModelVersionFacts | None, registered: RegisteredVersion | None) -> Link:
    kind = LinkKind.SIGN_OFF
    if mv is None:
        return _missing(kind, "no ModelVersion, so no sign-off")
    sign_off = mv.spec.approval.sign_off
    if sign_off is None:
        return _missing(kind, f"ModelVersion {mv.name} has no sign-off")
    registry = mv.status.registry
    verdict = sign_off_verdict(
        (),
        mv.spec.approval,
        mv.authors,
        registry_version=registry.version if registry else None,
        digest=mv.status.gates_digest,
    )
    if not verdict.valid:
        return _missing(
            kind, f"the sign-off by {sign_off.by} is not valid: {verdict.condition.message}"
        )
    if mv.authors.created_by is None:
        return _missing(
            kind, "the API server recorded no author, so the sign-off cannot be verified"
        )
    at = mv.status.approval.at.isoformat() if mv.status.approval else "not recorded"
    in_registry = registered.tags.get(APPROVED_BY_TAG) if registered else None
    details = (
        f"verified: the API server recorded the authors (created by {mv.authors.created_by}, "
        f"spec last changed by {mv.authors.spec_changed_by or mv.authors.created_by}), "
        f"not the approver",
        f"registry records approved_by: {in_registry or 'MISSING'}",
        f"comment: {sign_off.comment or '-'}",
    )
    data = {
        "by": sign_off.by,
        "at": at,
        "verified": True,
        "registryApprovedBy": in_registry,
        "authors": vars(mv.authors),
        "comment": sign_off.comment,
    }
    return Link(kind, f"by {sign_off.by} at {at}", details, data=data)


def _gates(mv: ModelVersionFacts | None) -> Link:
    if mv is None or not mv.status.gates:
        return _missing(LinkKind.GATES, "no gate results recorded")
    lines = tuple(
        f"{g.name} {g.verdict}: value {_number(g.value)}, threshold {_number(g.threshold)}: "
        f"{g.message}"
        for g in mv.status.gates
    )
    data = {"summary": mv.status.gates_summary, "gates": [_dump(g) for g in mv.status.gates]}
    return Link(LinkKind.GATES, mv.status.gates_summary or f"{len(lines)} gates", lines, data=data)


def _run(mv: ModelVersionFacts | None) -> Link:
    run = mv.status.run if mv is not None else None
    if mv is None or run is None:
        return _missing(LinkKind.PIPELINE_RUN, "no pipeline run recorded")
    registry = mv.status.registry
    mlflow_run = registry.run_id if registry else None
    details = (
        f"key {run.key}",
        f"MLflow run {mlflow_run or 'not recorded'}",
        f"pipeline {mv.spec.pipeline.reference}",
    )
    return Link(
        LinkKind.PIPELINE_RUN,
        f"run {run.id}: {run.state}",
        details,
        data={**_dump(run), "mlflowRunId": mlflow_run},
    )


def _dataset(mv: ModelVersionFacts | None) -> Link:
    lineage = mv.status.lineage if mv is not None else None
    if lineage is None or not lineage.dataset_hash:
        return _missing(LinkKind.DATASET, "no dataset hash recorded")
    return Link(LinkKind.DATASET, lineage.dataset_hash, data={"datasetHash": lineage.dataset_hash})


def _feature_views(
    mv: ModelVersionFacts | None, views: Mapping[str, FeatureViewFacts | None]
) -> Link:
    lineage = mv.status.lineage if mv is not None else None
    if lineage is None or not lineage.feature_views:
        return _missing(LinkKind.FEATURE_VIEWS, "no FeatureView versions recorded")
    lines, gone = [], []
    # A hybrid's BatchPredictions (ADR 0042): their version names the served predictions, and
    # the lineage the models behind them; no FeatureView is looked for under their names.
    upstream = {u.batch_prediction: u.model_versions for u in lineage.upstream_models}
    for fv in lineage.feature_views:
        if fv.name in upstream:
            lines.append(_predictions_line(fv, upstream[fv.name]))
            continue
        now = views.get(fv.name)
        current = now.status.version if now is not None else None
        lines.append(f"{fv.name} version {fv.version} (now {current or 'gone'})")
        if now is None:
            gone.append(fv.name)
    data = {"featureViews": [_dump(fv) for fv in lineage.feature_views]}
    if gone:
        return Link(
            LinkKind.FEATURE_VIEWS,
            f"MISSING: FeatureView {', '.join(gone)} no longer exists",
            tuple(lines),
            True,
            data,
        )
    if lineage.upstream_models:
        data["upstreamModels"] = [_dump(u) for u in lineage.upstream_models]
    return Link(LinkKind.FEATURE_VIEWS, f"{len(lines)} FeatureView(s)", tuple(lines), data=data)


def _predictions_line(view: FeatureViewVersion, models: Sequence[str]) -> str:
    scored_by = ", ".join(models) or "no model by its labels' times"
    return f"{view.name} (BatchPrediction) version {view.version}: scores of {scored_by}"


def _sources(views: Mapping[str, FeatureViewFacts | None]) -> Link:
    found = {name: v for name, v in views.items() if v is not None}
    if not found:
        return _missing(LinkKind.SOURCES, "no FeatureView to read sources and watermarks from")
    lines, data = [], []
    for name, v in sorted(found.items()):
        mark = v.status.watermark.isoformat() if v.status.watermark else "none yet"
        lines.append(f"{name}: {v.spec.source.path}, event watermark {mark}")
        data.append(
            {
                "featureView": name,
                "source": _dump(v.spec.source),
                "watermark": v.status.watermark,
                "createdWatermark": v.status.created_watermark,
            }
        )
    return Link(LinkKind.SOURCES, f"{len(lines)} source(s)", tuple(lines), data={"sources": data})


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _dump(model: Any) -> dict[str, Any]:
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def render(chain_: Chain) -> str:
    """The chain as a person reads it: one link a block, missing links said so."""
    lines = [f"lineage of {chain_.subject}"]
    for number, link in enumerate(chain_.links, start=1):
        lines.append(f"{number}. {link.kind.value}: {link.summary}")
        lines += [f"     {detail}" for detail in link.details]
    if chain_.missing:
        names = ", ".join(link.kind.value for link in chain_.missing)
        lines.append(f"INCOMPLETE: {len(chain_.missing)} link(s) missing: {names}")
    else:
        lines.append("complete: every link is present")
    return "\n".join(lines)


def as_json(chain_: Chain) -> dict[str, Any]:
    return {
        "subject": chain_.subject,
        "complete": not chain_.missing,
        "links": [
            {
                "kind": link.kind.value,
                "summary": link.summary,
                "missing": link.missing,
                "details": list(link.details),
                "data": dict(link.data),
            }
            for link in chain_.links
        ],
    }
