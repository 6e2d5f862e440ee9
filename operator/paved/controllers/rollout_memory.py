"""What a Rollout leaves in the registry, and a revert of the one that promoted production.

`remember`: a Rollout that rolls back or promotes writes how it ended onto its candidate's
registry version, with the guardrail readings and the A/B result (`core.registry_memory`).
`revert`: a finished Rollout asked to revert (`paved model revert`) serves the version its
candidate replaced on the target's baseline and makes it production again, as `core.reverts`
decides; the Rollout then reads RolledBack with reason Reverted.
"""

from __future__ import annotations

import datetime as dt
import logging

from paved.api.model_version import RegistryEntry, Stage
from paved.api.rollout import RolloutPhase, RolloutSpec, RolloutStatus, TrafficSplit
from paved.controllers._kopf import Reconciled, Resource
from paved.core.conditions import Observation
from paved.core.model_lifecycle import Refusal
from paved.core.registry_memory import rollout_ended
from paved.core.reverts import Revert, RevertFacts, decide, previous_version
from paved.core.rollout_steps import Decision, Promote, RollBack
from paved.core.rollout_ticks import PROGRESSING, Requests
from paved.core.serving import ServedModel
from paved.errors import TransientError
from paved.ports import Ports
from paved.ports.traffic import TrafficRouter, Unroutable

RolloutResource = Resource[RolloutSpec, RolloutStatus]
log = logging.getLogger(__name__)


async def remember(
    decision: Decision,
    rollout: RolloutResource,
    ports: Ports,
    *,
    entry: RegistryEntry | None,
    after: RolloutStatus,
    now: dt.datetime,
) -> None:
    """Write a rollback's or a promotion's evidence onto the candidate's version. The traffic
    has moved already: a registry outage must not undo or delay that, so it is logged."""
    if entry is None or not isinstance(decision, RollBack | Promote):
        return
    outcome = after.phase.value if after.phase else type(decision).__name__
    tags = rollout_ended(
        rollout.name,
        outcome=outcome,
        reason=decision.reason,
        message=decision.message,
        status=after,
        at=now,
    )
    try:
        await ports.registry.annotate(entry.name, entry.version, tags)
    except TransientError as error:
        log.warning("Rollout %s: its end was not recorded in the registry: %s", rollout.name, error)


async def revert(
    rollout: RolloutResource, ports: Ports, *, requests: Requests, now: dt.datetime
) -> Reconciled:
    """Undo the promotion: the previous version serves, then the registry says so."""
    status = rollout.status.model_copy(update={"reverted": requests.revert})
    facts = await _facts(rollout, ports, reason=requests.revert or "")
    decision = decide(facts, now=now)
    if isinstance(decision, Refusal):
        refused = Observation(PROGRESSING, "False", decision.reason, decision.message)
        return Reconciled([refused], status=status.model_copy(update={"message": decision.message}))
    router = await ports.routers.router_for(rollout.namespace, rollout.spec.target)
    if isinstance(router, Unroutable):
        raise TransientError(f"cannot revert: {router.message}")
    await _carry_out(decision, router, ports)
    done = Observation(PROGRESSING, "False", decision.reason, decision.message)
    reverted = status.model_copy(
        update={
            "phase": RolloutPhase.ROLLED_BACK,
            "traffic": TrafficSplit(baseline=100, candidate=0),
            "message": decision.message,
        }
    )
    return Reconciled([done], status=reverted)


async def _carry_out(decision: Revert, router: TrafficRouter, ports: Ports) -> None:
    """Traffic first (what users get is what matters most), then the registry; repeated after
    a crash, each part is idempotent. The restored version's tags are written after its stage:
    moving production names the reverted version as the one it replaced, which it is not."""
    restore, archive = decision.restore, decision.archive
    await router.promote(ServedModel(restore.uri, restore.model, restore.version))
    await ports.registry.annotate(archive.model, archive.version, decision.archived_tags)
    await ports.registry.set_stage(restore.model, restore.version, Stage.PRODUCTION)
    await ports.registry.annotate(restore.model, restore.version, decision.restored_tags)


async def _facts(rollout: RolloutResource, ports: Ports, *, reason: str) -> RevertFacts:
    """The Rollout's candidate's version, the one it replaced, and production now."""
    found = await ports.cluster.model_version(rollout.namespace, rollout.spec.candidate)
    # Its registry entry is in its status, readable even when its spec is not.
    entry = found.status.registry if found is not None and found.status else None
    if entry is None:
        return RevertFacts(rollout.name, reason, None, None, None)
    candidate = await ports.registry.version(entry.name, entry.version)
    previous_number = previous_version(candidate)
    previous = (
        await ports.registry.version(entry.name, previous_number) if previous_number else None
    )
    production = await ports.registry.in_stage(entry.name, Stage.PRODUCTION)
    return RevertFacts(rollout.name, reason, candidate, production, previous)
