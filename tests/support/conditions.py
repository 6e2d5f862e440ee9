"""Read and wait on paved resources' conditions through kubectl."""

from __future__ import annotations

from typing import Any

from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for


def condition(resource: dict[str, Any], type_: str) -> dict[str, Any] | None:
    conditions = (resource.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c["type"] == type_), None)


def wait_for_condition(
    kubectl: Kubectl,
    kind: str,
    name: str,
    namespace: str,
    type_: str,
    status: str,
    timeout: float = 30,
    generation: int | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    """Wait until `type_` has `status` (for `generation` and with `reason`, if given)."""

    def probe() -> dict[str, Any] | None:
        resource: dict[str, Any] = kubectl.get_json(kind, name, "-n", namespace)
        found = condition(resource, type_)
        if found is None or found["status"] != status:
            return None
        if generation is not None and found.get("observedGeneration") != generation:
            return None
        if reason is not None and found.get("reason") != reason:
            return None
        return resource

    return wait_for(probe, timeout, f"{kind}/{name} {type_}={status}")
