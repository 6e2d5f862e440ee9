"""What a serving controller's stand-in does to the objects it owns, whichever controller it
stands in for (Seldon's, KServe's): apply them server-side, list and delete those it no longer
wants, read how their Pods fared, and tell the owner's readers with an event."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from kubernetes import client

log = logging.getLogger("paved_local.seldon")

FIELD_MANAGER: Final = "seldon-controller-stand-in"
# The kinds a stand-in creates: (API path, plural) by kind.
KINDS: Final = {"Deployment": ("apis/apps/v1", "deployments"), "Service": ("api/v1", "services")}


@dataclass
class Children:
    """The objects one controller's stand-in owns: found by its `managed-by` label value and
    by their owner reference's uid."""

    api: client.ApiClient
    managed_by: str
    warned: set[tuple[str, str]] = field(default_factory=set)  # (uid, message) already evented

    def apply(self, body: Mapping[str, Any]) -> None:
        """Server-side apply one child, taking over fields a person may have changed."""
        meta = body["metadata"]
        base, plural = KINDS[body["kind"]]
        self.api.call_api(
            f"/{base}/namespaces/{meta['namespace']}/{plural}/{meta['name']}",
            "PATCH",
            query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
            header_params={"Content-Type": "application/apply-patch+yaml"},
            body=dict(body),
            auth_settings=["BearerToken"],
            response_type="object",
        )

    def owned(self, owner: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
        """The children of `kind` that `owner` owns."""
        meta = owner["metadata"]
        base, plural = KINDS[kind]
        found = self.api.call_api(
            f"/{base}/namespaces/{meta['namespace']}/{plural}",
            "GET",
            query_params=[("labelSelector", f"app.kubernetes.io/managed-by={self.managed_by}")],
            auth_settings=["BearerToken"],
            response_type="object",
            _return_http_data_only=True,
        )
        return [
            item
            for item in found["items"]
            if any(
                o.get("uid") == meta["uid"] for o in item["metadata"].get("ownerReferences") or []
            )
        ]

    def delete_stale(self, owner: Mapping[str, Any], wanted: set[str]) -> None:
        """Delete the children of `owner` whose names are not `wanted`."""
        for kind, (base, plural) in KINDS.items():
            for item in self.owned(owner, kind):
                name = item["metadata"]["name"]
                if name not in wanted:
                    log.info("deleting %s %s of %s", plural, name, key_of(owner))
                    self.api.call_api(
                        f"/{base}/namespaces/{item['metadata']['namespace']}/{plural}/{name}",
                        "DELETE",
                        auth_settings=["BearerToken"],
                    )

    def owners(self, group: str, version: str, plural: str, kind: str) -> list[dict[str, Any]]:
        """Every object of `plural` in the cluster that is not being deleted (the garbage
        collector removes its children), with the apiVersion and kind its events name."""
        listed = client.CustomObjectsApi(self.api).list_cluster_custom_object(
            group, version, plural
        )
        live = [o for o in listed["items"] if not o["metadata"].get("deletionTimestamp")]
        for owner in live:
            owner.setdefault("apiVersion", f"{group}/{version}")
            owner.setdefault("kind", kind)
        return live

    def available(self, owner: Mapping[str, Any]) -> dict[str, int]:
        """Each owned Deployment's available replicas, by name."""
        return {
            d["metadata"]["name"]: int((d.get("status") or {}).get("availableReplicas") or 0)
            for d in self.owned(owner, "Deployment")
        }

    def pods(self, owner: Mapping[str, Any], selector: str) -> list[Any]:
        return list(
            client.CoreV1Api(self.api)
            .list_namespaced_pod(owner["metadata"]["namespace"], label_selector=selector)
            .items
        )

    def warn(self, owner: Mapping[str, Any], reason: str, message: str) -> None:
        """A Warning event on `owner`, once per message."""
        meta = owner["metadata"]
        if (meta["uid"], message) in self.warned:
            return
        now = dt.datetime.now(dt.UTC)
        event = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{meta['name']}."),
            involved_object=client.V1ObjectReference(
                api_version=owner["apiVersion"],
                kind=owner["kind"],
                name=meta["name"],
                namespace=meta["namespace"],
                uid=meta["uid"],
            ),
            reason=reason,
            message=message,
            type="Warning",
            source=client.V1EventSource(component=FIELD_MANAGER),
            first_timestamp=now,
            last_timestamp=now,
            count=1,
        )
        client.CoreV1Api(self.api).create_namespaced_event(meta["namespace"], event)
        self.warned.add((meta["uid"], message))
        log.warning("%s: %s", key_of(owner), message)


def initializer_failure(pods: list[Any]) -> str | None:
    """What a failed storage initializer said last (its termination message), if one did."""
    for pod in pods:
        for init in (pod.status.init_container_statuses if pod.status else None) or []:
            for state in (init.state, init.last_state):
                ended = state.terminated if state else None
                if ended is not None and ended.exit_code != 0:
                    said = (ended.message or ended.reason or "").strip().splitlines()
                    return f"the storage initializer failed: {said[-1] if said else 'no output'}"
    return None


def key_of(owner: Mapping[str, Any]) -> str:
    return f"{owner['metadata']['namespace']}/{owner['metadata']['name']}"
