"""KServe's controller's bookkeeping of an InferenceService's revisions (serverless mode, as
KServe's controller and Knative keep them), as pure functions, held to their contract (ADR 0015).

Each new `storageUri` of the predictor is a new revision (`<name>-predictor-00002`); once it is
ready it is the latest ready revision. Without `canaryTrafficPercent` (or at 100) the latest
ready revision takes all traffic and becomes the latest rolled-out one; with it, the latest ready
revision gets that percent and the previous rolled-out revision keeps the rest (0 pins
everything to the previous one: KServe's rollback). The status says so as KServe's does:
`components.predictor.traffic` (Knative's traffic targets, tagged `prev` and `latest`),
`latestReadyRevision`, `latestCreatedRevision`, `latestRolledoutRevision`,
`previousRolledoutRevision`, `observedGeneration` and a Ready condition. Which model each
revision serves (Knative keeps it in its Revision objects) is kept in the status's
`annotations`, the place Knative's duck-typed status has for such state.

Locally the data plane keeps them (a revision is ready once it loaded the model); on a cluster
the KServe stand-in does (once the revision's model server has a replica available).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

GROUP: Final = "serving.kserve.io"
VERSION: Final = "v1beta1"
PLURAL: Final = "inferenceservices"
REVISIONS_ANNOTATION: Final = "paved.dev/revision-models"
DOMAIN: Final = "example.com"  # KServe's default ingress domain: <name>.<namespace>.example.com


@dataclass(frozen=True)
class Revision:
    name: str
    model_uri: str


@dataclass(frozen=True)
class Revisions:
    """What KServe's controller (with Knative's) knows of one InferenceService's predictor."""

    created: tuple[Revision, ...] = ()
    latest_ready: str | None = None
    latest_rolledout: str | None = None
    previous_rolledout: str | None = None

    def model_of(self, name: str) -> str:
        return next(r.model_uri for r in self.created if r.name == name)


class InvalidServiceError(ValueError):
    """The InferenceService cannot be served; the message says why (KServe's webhook would)."""


def storage_uri(service: Mapping[str, Any]) -> str:
    model = ((service.get("spec") or {}).get("predictor") or {}).get("model") or {}
    uri = model.get("storageUri")
    if not uri:
        name = (service.get("metadata") or {}).get("name")
        raise InvalidServiceError(f"{name}: spec.predictor.model.storageUri is not set")
    return str(uri)


def canary_percent(service: Mapping[str, Any]) -> int | None:
    found = ((service.get("spec") or {}).get("predictor") or {}).get("canaryTrafficPercent")
    return None if found is None else int(found)


def remembered(service: Mapping[str, Any]) -> Revisions:
    """The revisions the status records (none for a new InferenceService)."""
    status = service.get("status") or {}
    predictor = (status.get("components") or {}).get("predictor") or {}
    models = json.loads((status.get("annotations") or {}).get(REVISIONS_ANNOTATION) or "{}")
    return Revisions(
        tuple(Revision(name, uri) for name, uri in models.items()),
        predictor.get("latestReadyRevision"),
        predictor.get("latestRolledoutRevision"),
        predictor.get("previousRolledoutRevision"),
    )


def reconcile(
    name: str, known: Revisions, uri: str, canary: int | None, ready: Callable[[Revision], bool]
) -> Revisions:
    """The revisions after KServe's controller has seen the spec (`uri`, `canary`) and
    whether the latest revision is `ready` (its model loaded, or its model server available)."""
    created = known.created
    if not created or created[-1].model_uri != uri:
        created = (*created, Revision(f"{name}-predictor-{len(created) + 1:05d}", uri))
    latest_ready = created[-1].name if ready(created[-1]) else known.latest_ready
    rolledout, previous = known.latest_rolledout, known.previous_rolledout
    if latest_ready is not None and rolledout is None:
        rolledout = latest_ready  # the first revision takes everything
    elif latest_ready not in (None, rolledout) and (canary is None or canary >= 100):
        rolledout, previous = latest_ready, rolledout
    return Revisions(created, latest_ready, rolledout, previous)


def traffic(revisions: Revisions, canary: int | None) -> list[dict[str, Any]]:
    """Knative's traffic targets for the predictor, as KServe sets them."""
    latest, rolledout = revisions.latest_ready, revisions.latest_rolledout
    if latest is None or rolledout is None:
        return []
    if latest == rolledout or canary is None:
        return [{"tag": "latest", "revisionName": latest, "latestRevision": True, "percent": 100}]
    return [
        {
            "tag": "prev",
            "revisionName": rolledout,
            "latestRevision": False,
            "percent": 100 - canary,
        },
        {"tag": "latest", "revisionName": latest, "latestRevision": True, "percent": canary},
    ]


def status_of(
    service: Mapping[str, Any], revisions: Revisions, canary: int | None, failed: str | None
) -> dict[str, Any]:
    """The status KServe's controller writes for `revisions` (`failed`: why the latest
    revision's model did not load, if it did not)."""
    metadata = service["metadata"]
    host = f"{metadata['name']}.{metadata['namespace']}.{DOMAIN}"
    ready = revisions.latest_ready is not None and failed is None
    condition = {
        "type": "Ready",
        "status": "True" if ready else "False",
        "reason": "" if ready else "RevisionFailed" if failed else "RevisionMissing",
        "message": failed or "",
    }
    revision_names = {
        "latestCreatedRevision": revisions.created[-1].name if revisions.created else None,
        "latestReadyRevision": revisions.latest_ready,
        "latestRolledoutRevision": revisions.latest_rolledout,
        "previousRolledoutRevision": revisions.previous_rolledout,
    }
    predictor = {
        **{key: name for key, name in revision_names.items() if name},  # omitempty, as in Go
        "traffic": traffic(revisions, canary),
        "url": f"http://{metadata['name']}-predictor.{metadata['namespace']}.{DOMAIN}",
    }
    models = {r.name: r.model_uri for r in revisions.created}
    return {
        "observedGeneration": metadata.get("generation"),
        "url": f"http://{host}",
        "conditions": [condition, {**condition, "type": "PredictorReady"}],
        "components": {"predictor": predictor},
        "annotations": {REVISIONS_ANNOTATION: json.dumps(models, sort_keys=True)},
    }
