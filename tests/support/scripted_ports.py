"""Ports with scripted answers, for calling the real handlers through `_kopf`'s adapter in the
unit tier: a router that shows what it was told, metrics that read what the test says, an
in-memory registry and online store, the real DuckDB engine over a temporary data root."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, cast

import pyarrow as pa

from paved.adapters.offline.duckdb import DuckDBEngine
from paved.api.model_version import Stage
from paved.api.rollout import Backend, BuiltinGuardrail, Target
from paved.controllers._kopf import INDEX_IDS, snapshot
from paved.core.feature_views import ViewDefinition
from paved.core.interleaving import Preference
from paved.core.model_versions import RegisteredVersion
from paved.core.rollout_steps import Traffic
from paved.core.serving import Arm, Capability, ServedModel
from paved.ports import Ports
from paved.ports.online import WriteResult
from paved.ports.traffic import Queries, TrafficRouter, Unroutable
from tests.support.model_versions import Runner


@dataclass
class Router:
    """A router that can do everything, for any target; its queries name the guardrail and arm."""

    traffic: Traffic | None = field(default_factory=lambda: Traffic(100, 0, False))
    backend: Backend = Backend.SELDON_DEPLOYMENT
    capabilities: frozenset[Capability] = frozenset(Capability)
    described: str = "SeldonDeployment churn"

    async def apply(self, traffic: Traffic, _candidate: ServedModel) -> None:
        self.traffic = traffic

    async def promote(self, _candidate: ServedModel) -> None:
        self.traffic = Traffic(0, 100, False)

    async def observe(self, _candidate_model_uri: str) -> Traffic | None:
        return self.traffic

    async def guardrail_queries(self, builtin: BuiltinGuardrail, arm: Arm, window: str) -> Queries:
        return Queries(f"{builtin}({arm})[{window}]", f"sum(increase(requests({arm})[{window}]))")

    async def counter_increase(self, metric: str, arm: Arm, seconds: int) -> str:
        return f"sum(increase({metric}({arm})[{seconds}s]))"

    async def interleaved_queries(self, preference: Preference, seconds: int) -> str:
        return f"sum(increase(interleaved({preference})[{seconds}s]))"

    async def router_for(self, _namespace: str, _target: Target) -> TrafficRouter | Unroutable:
        return self  # it is its own `Routers`


@dataclass
class Metrics:
    """Every query reads `reading(query)`; histograms are empty."""

    reading: Callable[[str], float | None] = lambda _query: None

    async def value(self, query: str) -> float | None:
        return self.reading(query)

    async def vector(self, _query: str, _label: str) -> dict[str, float]:
        return {}


@dataclass
class Registry:
    versions: dict[str, RegisteredVersion] = field(default_factory=dict)

    async def register(
        self, model: str, run_id: str, key: str, tags: Mapping[str, str]
    ) -> RegisteredVersion:
        number = str(len(self.versions) + 1)
        found = RegisteredVersion(
            model, number, run_id, f"models:/{model}/{number}", Stage.TRAINED, dict(tags)
        )
        return self.versions.setdefault(key, found)

    async def find(self, _model: str, key: str) -> RegisteredVersion | None:
        return self.versions.get(key)

    async def set_stage(self, _model: str, version: str, stage: Stage) -> None:
        for key, found in self.versions.items():
            if found.version == version:
                self.versions[key] = replace(found, stage=stage)

    async def in_stage(self, _model: str, _stage: Stage) -> RegisteredVersion | None:
        return None

    async def version(self, _model: str, version: str) -> RegisteredVersion | None:
        return next((v for v in self.versions.values() if v.version == version), None)

    async def annotate(self, _model: str, version: str, tags: Mapping[str, str]) -> None:
        for key, found in self.versions.items():
            if found.version == version:
                self.versions[key] = replace(found, tags={**found.tags, **tags})

    async def record_sign_off(self, *_args: str) -> None:
        return None

    async def training_outcome(self, _model: str, _run_key: str) -> str | None:
        return None


class OnlineStore:
    def write(self, _view: ViewDefinition, rows: pa.Table | pa.RecordBatch) -> WriteResult:
        return WriteResult(rows.num_rows, rows.num_rows)

    def read(self, *_args: Any) -> Any:
        raise NotImplementedError

    def delete_view(self, _view: ViewDefinition) -> int:
        return 0


def scripted_ports(data_root: str, metrics: Metrics | None = None) -> Ports:
    return Ports(
        cast(Any, None),  # `_kopf` looks paved objects up in kopf's indices (see `indices`)
        DuckDBEngine(),
        OnlineStore(),
        Runner(),
        Registry(),
        Router(),
        metrics or Metrics(),
        data_root,
        "c0ffee",
    )


def indices(*objects: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """kopf's indices of the paved kinds holding `(kind, name, body)` objects in namespace ml,
    as the adapter receives them (its keyword arguments)."""
    found: dict[str, dict[Any, list[dict[str, Any]]]] = {index: {} for index in INDEX_IDS.values()}
    for kind, name, body in objects:
        seen = snapshot({"metadata": {"name": name, "namespace": "ml"}, **body})
        index = found[INDEX_IDS[kind]]
        index.setdefault("ml", []).append(seen)
        index.setdefault(("ml", name), []).append(seen)
    return found
