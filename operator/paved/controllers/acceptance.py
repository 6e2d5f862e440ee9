"""Whether a paved resource's references exist: every controller's timer starts from this,
so that one writer owns each object's conditions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from paved.api.policies import CREATED_BY, SPEC_CHANGED_BY
from paved.controllers._kopf import Resource
from paved.core.conditions import Observation
from paved.core.data_paths import path_acceptance
from paved.core.online_names import ONLINE_KINDS, Holder, name_taken
from paved.core.promotion_policy import Authors, NamedPolicy, governing
from paved.core.references import Reference, acceptance, references_of
from paved.errors import PermanentError
from paved.ports import Ports
from paved.ports.cluster import Unreadable


async def check_references(resource: Resource[Any, Any], ports: Ports) -> Observation:
    outside = path_acceptance(resource.spec, ports.data_root, resource.namespace)
    if outside is not None:
        return outside
    taken = await name_holder(resource, ports)
    if taken is not None:
        return taken
    missing = [
        reference
        for reference in references_of(resource.spec)
        if not await _exists(reference, resource.namespace, ports)
    ]
    return acceptance(missing, resource.namespace)


async def name_holder(resource: Resource[Any, Any], ports: Ports) -> Observation | None:
    """For a kind that serves online under its name: not accepted while an object of another
    such kind, created first, holds the name."""
    if resource.kind not in ONLINE_KINDS:
        return None
    others = []
    for kind in ONLINE_KINDS:
        if kind == resource.kind:
            continue
        created = await ports.cluster.created(kind, resource.namespace, resource.name)
        if created is not None:
            others.append(Holder(kind, created))
    return name_taken(resource.name, Holder(resource.kind, resource.created), others)


async def _exists(reference: Reference, namespace: str, ports: Ports) -> bool:
    for kind in reference.kinds:
        if await ports.cluster.exists(kind, namespace, reference.name):
            return True
    return False


async def governing_policies(namespace: str, ports: Ports) -> tuple[NamedPolicy, ...]:
    """The PromotionPolicies that govern `namespace`, parsed."""
    policies = []
    for found in await ports.cluster.promotion_policies():
        if isinstance(found, Unreadable):
            # The API server validated it; a policy this operator cannot read holds everything.
            raise PermanentError(f"PromotionPolicy {found.name} cannot be read: {found.problem}")
        policies.append(NamedPolicy(found.name, found.spec))
    return governing(policies, namespace)


def authors(annotations: Mapping[str, str]) -> Authors:
    """Who created and last changed a ModelVersion's spec, as the API server recorded them."""
    return Authors(annotations.get(CREATED_BY), annotations.get(SPEC_CHANGED_BY))
