"""Render the CustomResourceDefinitions from the pydantic models: the one source of truth.

Pydantic writes JSON Schema; Kubernetes wants a structural OpenAPI v3 schema. The conversion
inlines `$ref`s, turns `X | None` into an optional `X`, maps free-form maps to
`x-kubernetes-preserve-unknown-fields`, and keeps every constraint, default and CEL rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import yaml
from pydantic import BaseModel

from paved.api.batch_prediction import BatchPredictionSpec, BatchPredictionStatus
from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus
from paved.api.meta import GROUP, VERSION, Status
from paved.api.model_monitor import ModelMonitorSpec, ModelMonitorStatus
from paved.api.model_version import ModelVersionSpec, ModelVersionStatus
from paved.api.policies import authors_policy, sign_off_policy
from paved.api.promotion_admission import promotion_policy
from paved.api.promotion_policy import PromotionPolicySpec, PromotionPolicyStatus
from paved.api.rollout import RolloutSpec, RolloutStatus
from paved.api.streaming_prediction import StreamingPredictionSpec, StreamingPredictionStatus

CATEGORY: Final = "paved"
# JSON Schema keywords Kubernetes refuses or that only add noise to a CRD.
_DROPPED: Final = frozenset({"title", "$defs", "examples"})


@dataclass(frozen=True)
class PrinterColumn:
    name: str
    json_path: str
    type: str = "string"
    description: str = ""
    priority: int = 0

    def render(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


def _condition(type_: str) -> str:
    return f'.status.conditions[?(@.type=="{type_}")].status'


SpecT = TypeVar("SpecT", bound=BaseModel)
StatusT = TypeVar("StatusT", bound=Status)


@dataclass(frozen=True)
class Kind(Generic[SpecT, StatusT]):
    kind: str
    plural: str
    short_names: tuple[str, ...]
    description: str
    spec: type[SpecT]
    status: type[StatusT]
    columns: tuple[PrinterColumn, ...]
    scope: str = "Namespaced"

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"


AGE = PrinterColumn("Age", ".metadata.creationTimestamp", "date")

FEATURE_VIEW = Kind(
    "FeatureView",
    "featureviews",
    ("fv",),
    "One immutable version of a feature set: offline in Parquet, online in Redis.",
    FeatureViewSpec,
    FeatureViewStatus,
    (
        PrinterColumn("Version", ".status.version", description="Content hash of the spec"),
        PrinterColumn("Ready", _condition("Ready")),
        PrinterColumn("Freshness", ".status.freshnessSummary"),
        PrinterColumn("Materialized", ".status.lastMaterialization.at", "date"),
        PrinterColumn("Rows", ".status.lastMaterialization.rows", "integer", priority=1),
        AGE,
    ),
)
MODEL_VERSION = Kind(
    "ModelVersion",
    "modelversions",
    ("mv",),
    "One trained model: its pipeline run, registry entry, lineage, gates and sign-off.",
    ModelVersionSpec,
    ModelVersionStatus,
    (
        PrinterColumn("Model", ".spec.model"),
        PrinterColumn("Registry", ".status.registry.version", description="Registry version"),
        PrinterColumn("Stage", ".status.stage"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Gates", ".status.gatesSummary"),
        AGE,
    ),
)
ROLLOUT = Kind(
    "Rollout",
    "rollouts",
    ("mro",),
    "Moves a candidate ModelVersion onto a SeldonDeployment step by step, on evidence.",
    RolloutSpec,
    RolloutStatus,
    (
        PrinterColumn("Candidate", ".spec.candidate"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Step", ".status.currentStepKind"),
        PrinterColumn("Weight", ".status.traffic.candidate", "integer", "Candidate traffic %"),
        PrinterColumn("Message", ".status.message", priority=1),
        AGE,
    ),
)
PROMOTION_POLICY = Kind(
    "PromotionPolicy",
    "promotionpolicies",
    ("ppol",),
    "The platform's rules for reaching production: gates, sign-off, shadow and canary time.",
    PromotionPolicySpec,
    PromotionPolicyStatus,
    (
        PrinterColumn("Namespaces", ".spec.namespaces", description="Empty: every namespace"),
        PrinterColumn("Sign-off", ".spec.signOff.required", "boolean"),
        PrinterColumn("Min shadow", ".spec.rollout.minShadow"),
        AGE,
    ),
    scope="Cluster",
)
BATCH_PREDICTION = Kind(
    "BatchPrediction",
    "batchpredictions",
    ("bp",),
    "A registered model scoring a set of entities on a trigger, served online like features.",
    BatchPredictionSpec,
    BatchPredictionStatus,
    (
        PrinterColumn("Model", ".status.served.model"),
        PrinterColumn("Version", ".status.served.modelVersion", description="Registry version"),
        PrinterColumn("As of", ".status.served.asOf", "date"),
        PrinterColumn("Rows", ".status.served.rows", "integer"),
        PrinterColumn("Phase", ".status.phase"),
        PrinterColumn("Ready", _condition("Ready")),
        PrinterColumn("Seconds", ".status.served.seconds", "number", priority=1),
        AGE,
    ),
)
STREAMING_PREDICTION = Kind(
    "StreamingPrediction",
    "streamingpredictions",
    ("spred",),
    "Scores events from a Redis Stream with online features; results to a stream and online.",
    StreamingPredictionSpec,
    StreamingPredictionStatus,
    (
        PrinterColumn("Model", ".status.modelVersion", description="Registry version scored"),
        PrinterColumn("Workers", ".status.workers", "integer"),
        PrinterColumn("Ready", _condition("Ready")),
        PrinterColumn("Fresh", ".status.freshnessSummary"),
        PrinterColumn("Lag", ".status.backlog.lag", "integer", "Events not yet read"),
        PrinterColumn("Events/s", ".status.eventsPerSecond", "number", priority=1),
        AGE,
    ),
)
MODEL_MONITOR = Kind(
    "ModelMonitor",
    "modelmonitors",
    ("mmon",),
    "Watches a model's production version on a schedule: guardrails, input and score drift.",
    ModelMonitorSpec,
    ModelMonitorStatus,
    (
        PrinterColumn("Model", ".spec.model"),
        PrinterColumn("Version", ".status.modelVersion", description="Registry version watched"),
        PrinterColumn("Watching", _condition("Watching")),
        PrinterColumn("Healthy", _condition("Healthy")),
        PrinterColumn("Summary", ".status.summary"),
        PrinterColumn("Checked", ".status.lastCheckedAt", "date"),
        AGE,
    ),
)
# The kinds the operator reconciles; PromotionPolicy it only reads.
KINDS: Final = (
    FEATURE_VIEW,
    MODEL_VERSION,
    ROLLOUT,
    BATCH_PREDICTION,
    STREAMING_PREDICTION,
    MODEL_MONITOR,
)
ALL_KINDS: Final = (*KINDS, PROMOTION_POLICY)


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null"


def _structural(node: Any, definitions: dict[str, Any]) -> Any:
    """Pydantic's JSON Schema node → a Kubernetes structural schema node."""
    if isinstance(node, list):
        return [_structural(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    if "$ref" in node:
        target = definitions[node.pop("$ref").rsplit("/", 1)[-1]]
        node = {**target, **node}  # the field's own keywords (description, rules) win
    if "allOf" in node and len(node["allOf"]) == 1:
        node = {**node.pop("allOf")[0], **node}
        return _structural(node, definitions)
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if not _is_null(o)]
        if len(options) == 1:
            rest = {k: v for k, v in node.items() if k != "anyOf"}
            return _structural({**options[0], **rest}, definitions)
    if "$ref" in node:
        return _structural(node, definitions)
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED or (key == "default" and value is None):
            continue
        if key == "properties":
            result[key] = {name: _structural(v, definitions) for name, v in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            result[key] = _structural(value, definitions)
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            # JSON Schema 2020 puts the bound here; OpenAPI v3.0 wants the bound plus a flag.
            result["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            result[key] = True
        elif key == "additionalProperties" and value is False:
            continue  # the API server prunes and (with strict field validation) rejects unknowns
        else:
            result[key] = value
    if result.get("additionalProperties") is True or result.get(
        "x-kubernetes-preserve-unknown-fields"
    ):
        typed = "type" in result or result.get("additionalProperties") is True
        result.pop("additionalProperties", None)
        result["x-kubernetes-preserve-unknown-fields"] = True
        if typed:  # an untyped node stays untyped: any JSON value (a flat map's scalars)
            result["type"] = "object"
    if "enum" in result and "type" not in result:
        result["type"] = "string"
    if "const" in result:
        result["enum"] = [result.pop("const")]
    if "properties" in result:
        result.setdefault("type", "object")
    return result


def openapi_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The structural OpenAPI v3 schema of one model, as the API server validates it."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    definitions = schema.pop("$defs", {})
    structural: dict[str, Any] = _structural(schema, definitions)
    return structural


def custom_resource_definition(kind: Kind[Any, Any]) -> dict[str, Any]:
    spec_schema = openapi_schema(kind.spec)
    status_schema = openapi_schema(kind.status)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.crd_name},
        "spec": {
            "group": GROUP,
            "scope": kind.scope,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [c.render() for c in kind.columns],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": kind.description,
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec_schema,
                                "status": status_schema,
                            },
                        }
                    },
                }
            ],
        },
    }


class _NoAliasDumper(yaml.SafeDumper):
    """Writes repeated sub-schemas out in full: anchors make a CRD hard to read and diff."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 (the answer is always yes)
        return True


def render(kind: Kind[Any, Any]) -> str:
    """The CRD as the YAML checked in under `crds/`."""
    header = "# Generated from paved.api by `make crds`: do not edit.\n"
    body = yaml.dump(
        custom_resource_definition(kind), Dumper=_NoAliasDumper, sort_keys=False, width=100
    )
    return header + body


def file_name(kind: Kind[Any, Any]) -> str:
    return f"{GROUP}_{kind.plural}.yaml"


POLICY_FILE: Final = f"{GROUP}_policies.yaml"


def render_policies() -> str:
    """The admission policies, as the YAML checked in beside the CRDs."""
    header = "# Generated from paved.api by `make crds`: do not edit.\n"
    return header + yaml.dump_all(
        [*authors_policy(), *sign_off_policy(), *promotion_policy()],
        Dumper=_NoAliasDumper,
        sort_keys=False,
        width=100,
    )


PEERING_FILE: Final = "kopf.dev_peerings.yaml"


def _peering_definition(kind: str, scope: str) -> dict[str, Any]:
    plural = f"{kind.lower()}s"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.kopf.dev"},
        "spec": {
            "scope": scope,
            "group": "kopf.dev",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    # kopf keeps one entry per operator (id → priority, lastseen, lifetime).
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


def render_peering() -> str:
    """kopf's peering CRDs, as kopf documents them: the operator's replicas find each other
    there, and all but the active one stand by."""
    header = (
        "# Generated by `make crds`: kopf's peering resources, for a standby replica.\n"
        "# Only needed with more than one operator replica (the chart's `replicas`).\n"
    )
    definitions = [
        _peering_definition("ClusterKopfPeering", "Cluster"),
        _peering_definition("KopfPeering", "Namespaced"),
    ]
    return header + yaml.dump_all(definitions, Dumper=_NoAliasDumper, sort_keys=False, width=100)
