"""Whether a paved resource's references exist: every controller's timer starts from this,
so that one writer owns each object's conditions."""

from __future__ import annotations

from paved.controllers._kopf import Resource
from paved.core.conditions import Observation
from paved.core.data_paths import path_acceptance
from paved.core.references import acceptance, references_of
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
