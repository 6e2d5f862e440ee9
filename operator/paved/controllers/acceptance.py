"""Whether a paved resource's references exist: every controller's timer starts from this,
so that one writer owns each object's conditions."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import ValidationError

from paved.api.policies import CREATED_BY, SPEC_CHANGED_BY
from paved.api.promotion_policy import PromotionPolicySpec
from paved.controllers._kopf import Resource
from paved.core.conditions import Observation
from paved.core.data_paths import path_acceptance
from paved.core.promotion_policy import Authors, NamedPolicy, governing
from paved.core.references import acceptance, references_of
from paved.errors import PermanentError
from paved.ports import Ports


async def check_references(resource: Resource, ports: Ports) -> Observation:
    outside = path_acceptance(resource.spec, ports.data_root, resource.namespace)
    if outside is not None:
        return outside
    missing = [
        reference
        for reference in references_of(resource.spec)
        if await ports.cluster.get_paved(reference.kind, resource.namespace, reference.name) is None
    ]
    return acceptance(missing, resource.namespace)


async def governing_policies(namespace: str, ports: Ports) -> tuple[NamedPolicy, ...]:
    """The PromotionPolicies that govern `namespace`, parsed."""
    policies = []
    for found in await ports.cluster.promotion_policies():
        name = str((found.get("metadata") or {}).get("name", ""))
        try:
            spec = PromotionPolicySpec.model_validate(found.get("spec") or {})
        except ValidationError as error:
            # The API server validated it; a policy this operator cannot read holds everything.
            raise PermanentError(f"PromotionPolicy {name} cannot be read: {error}") from error
        policies.append(NamedPolicy(name, spec))
    return governing(policies, namespace)


def authors(annotations: Mapping[str, str]) -> Authors:
    """Who created and last changed a ModelVersion's spec, as the API server recorded them."""
    return Authors(annotations.get(CREATED_BY), annotations.get(SPEC_CHANGED_BY))
