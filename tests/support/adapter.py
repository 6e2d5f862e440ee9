"""A handler called as kopf calls it: through `_kopf`'s adapter, with a body, a patch and a memo
holding the ports, and kopf's events recorded instead of posted."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import kopf
import pytest

from paved.api.crds import Kind
from paved.controllers import _kopf
from paved.controllers._kopf import Handler
from paved.ports import Ports


@dataclass(frozen=True)
class Event:
    type: str
    reason: str
    message: str


@dataclass
class Outcome:
    """What one call left behind: the status patch, the events, and the error kopf saw."""

    patch: dict[str, Any]
    events: list[Event]
    error: BaseException | None

    def condition(self, type_: str) -> dict[str, Any]:
        (found,) = (
            c for c in self.patch.get("status", {}).get("conditions", []) if c["type"] == type_
        )
        return dict(found)


@dataclass
class Kopf:
    """Calls `handler` for objects of `kind` as kopf's timer would."""

    kind: Kind
    handler: Handler
    ports: Ports
    events: list[Event]  # the `recorded_events` fixture's
    memo: kopf.Memo = field(default_factory=kopf.Memo)

    async def call(self, body: dict[str, Any], indices: dict[str, Any] | None = None) -> Outcome:
        """One reconcile; `indices` are kopf's indices of the paved kinds (`scripted_ports`)."""
        self.memo["ports"] = self.ports
        seen = len(self.events)
        patch = kopf.Patch()

        def record(_body: object, *, type: str, reason: str, message: str = "") -> None:
            self.events.append(Event(type, reason, message))

        try:
            with mock.patch.object(kopf, "event", record):
                await _kopf._adapt(self.kind, self.handler)(
                    body=kopf.Body(body),
                    patch=patch,
                    memo=self.memo,
                    retry=0,  # kopf's count; the adapter keeps its own
                    **(indices or {}),
                )
        except (kopf.TemporaryError, kopf.PermanentError) as error:
            return Outcome(dict(patch), self.events[seen:], error)
        return Outcome(dict(patch), self.events[seen:], None)


def body(
    kind: Kind, spec: dict[str, Any], status: dict[str, Any] | None = None, version: int = 1
) -> dict[str, Any]:
    """An object of `kind` as kopf hands it to a timer; `version` is its resourceVersion (a
    status write the watch delivered is a new one)."""
    metadata = {
        "name": "subject",
        "namespace": "ml",
        "uid": "uid-1",
        "generation": 1,
        "resourceVersion": str(version),
        "creationTimestamp": dt.datetime(2026, 11, 27, tzinfo=dt.UTC).isoformat(),
    }
    return {"kind": kind.kind, "metadata": metadata, "spec": spec, "status": status or {}}


@pytest.fixture
def recorded_events() -> list[Event]:
    """The list a `Kopf` records kopf's events in."""
    return []
