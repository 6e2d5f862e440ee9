"""Accept every paved resource whose spec is valid and whose references exist."""

from __future__ import annotations

import datetime as dt

from paved.api.crds import FEATURE_VIEW, MODEL_VERSION, ROLLOUT
from paved.controllers._kopf import Reconciled, Resource, reconciler
from paved.core.references import acceptance, references_of
from paved.ports import Ports

_RECHECK_SECONDS = 15.0


@reconciler(FEATURE_VIEW, MODEL_VERSION, ROLLOUT)
async def accept(resource: Resource, ports: Ports, now: dt.datetime) -> Reconciled:  # noqa: ARG001
    missing = [
        reference
        for reference in references_of(resource.spec)
        if await ports.cluster.get_paved(reference.kind, resource.namespace, reference.name) is None
    ]
    observed = acceptance(missing, resource.namespace)
    if missing:
        return Reconciled([observed], _RECHECK_SECONDS, observed.message)
    return Reconciled([observed])
