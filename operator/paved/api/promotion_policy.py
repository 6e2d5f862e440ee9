"""PromotionPolicy: the rules a model must meet to reach production, owned by the platform.

Cluster-scoped, so only those who may write cluster-scoped paved objects (platform admins, by
RBAC) set them; a model's author cannot loosen them from a ModelVersion or a Rollout. Every
policy that selects a namespace applies there, and all of them must hold: the strictest wins.
Enforced twice: by a ValidatingAdmissionPolicy that takes the policy as its parameter (a
violating write is refused with the policy's name) and by the operator (a policy tightened after
admission still holds before production). See ADR 0010.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from paved.api.meta import GoDuration, Identifier, Model, ObjectName, Status, cel, section
from paved.api.model_version import MetricName

METRIC_NAMES = ", ".join(f"'{m.value}'" for m in MetricName)

GroupName = Annotated[str, Field(min_length=1, max_length=253)]


class SignOffRules(Model):
    required: bool = Field(
        default=True,
        description=(
            "Whether a ModelVersion needs a person's sign-off before production. Only a policy "
            "can waive it, and only when every policy selecting the namespace waives it."
        ),
    )
    approver_groups: list[GroupName] = Field(
        default_factory=list,
        max_length=32,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="The signer must belong to one of these groups (empty: any authenticated "
        "user who did not create or change the ModelVersion's spec).",
    )


class GateRules(Model):
    require_schema: bool = Field(default=False, description="The schema gate must be enabled.")
    min_golden_cases: int = Field(
        default=0, ge=0, le=10_000, description="At least this many golden cases."
    )
    protected_cohorts: list[Identifier] = Field(
        default_factory=list,
        max_length=16,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description=(
            "Label columns that must be kept as cohorts and judged by at least one slice gate "
            "whose filter names the column."
        ),
    )
    max_drift_psi: float | None = Field(
        default=None, gt=0, le=10, description="The drift gate's maxPsi may not exceed this."
    )
    max_metric_regression: float | None = Field(
        default=None, ge=0, le=1, description="The metric gate's maxRegression may not exceed this."
    )
    metric_floors: dict[str, float] = Field(
        default_factory=dict,
        max_length=8,
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(f"self.all(m, m in [{METRIC_NAMES}])", f"metrics: {METRIC_NAMES}")
            ]
        },
        description=(
            "Absolute floors by metric (e.g. auc: 0.7; for a lower-is-better metric such as "
            "logLoss or rmse, a ceiling). The metric gate's metric must reach its floor, and a "
            "first model, with no model serving to compare with, is judged on it overall and "
            "per slice. The strictest of these and the ModelVersion's minValue holds."
        ),
    )


class CanaryMinimum(Model):
    duration: GoDuration = Field(default="0s", max_length=32)
    weight: int = Field(
        default=1, ge=1, le=99, description="Only canary steps of at least this weight count."
    )


class RolloutRules(Model):
    min_shadow: GoDuration = Field(
        default="0s",
        max_length=32,
        description="Shadow time a Rollout must spend before an A/B test or full traffic.",
    )
    min_canary: CanaryMinimum = section(CanaryMinimum)


class PromotionPolicySpec(Model):
    namespaces: list[ObjectName] = Field(
        default_factory=list,
        max_length=256,
        json_schema_extra={"x-kubernetes-list-type": "set"},
        description="The namespaces it governs; empty: every namespace.",
    )
    sign_off: SignOffRules = section(SignOffRules)
    gates: GateRules = section(GateRules)
    rollout: RolloutRules = section(RolloutRules)


class PromotionPolicyStatus(Status):
    pass
