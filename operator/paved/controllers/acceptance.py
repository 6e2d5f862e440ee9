"""Whether a paved resource's references exist: every controller starts from this.

Rollouts are accepted on create and update here; FeatureViews and ModelVersions check it at
the top of their timers, so that one writer owns each object's conditions.
"""

from __future__ import annotations

import datetime as dt

from paved.api.crds import ROLLOUT
from paved.controllers._kopf import Reconciled, Resource, reconciler
from paved.core.conditions import Observation
from paved.core.references import acceptance, references_of
from paved.ports import Ports

RECHECK_SECONDS = 15.0


async def check_references(resource: Resource, ports: Ports) -> Observation:
    missing = [
        reference
        for reference in references_of(resource.spec)
        if await ports.cluster.get_paved(reference.kind, resource.namespace, reference.name) is None
    ]
    return acceptance(missing, resource.namespace)


@reconciler(ROLLOUT)
async def accept(resource: Resource, ports: Ports, now: dt.datetime) -> Reconciled:  # noqa: ARG001
    observed = await check_references(resource, ports)
    if observed.status != "True":
        return Reconciled([observed], RECHECK_SECONDS, observed.message)
    return Reconciled([observed])
