"""InferenceServices on the data plane: KServe's controller (the status) and its ingress (v1 and
v2 requests, addressed by Host as KServe's are), over the models the data plane loads."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd
from aiohttp import web
from kubernetes.client.exceptions import ApiException
from pydantic import BaseModel, Field, ValidationError

from paved_local.dataplane import kserve
from paved_local.dataplane.prediction_log import Served, entities
from paved_local.dataplane.routing import Predictor, Route, choose, keep_only
from paved_local.dataplane.scores import Scores
from paved_local.kserve import revisions as knative

if TYPE_CHECKING:
    from paved_local.dataplane.server import DataPlane

log = logging.getLogger("paved_local.dataplane")


class V1Request(BaseModel):
    """KServe v1: one object of named features per instance."""

    instances: list[dict[str, Any]] = Field(min_length=1)


class V2Input(BaseModel):
    name: str = Field(min_length=1)
    shape: list[int]
    datatype: str
    data: list[Any]


class V2Request(BaseModel):
    """The open inference protocol: one input tensor per feature, a row per example."""

    id: str | None = Field(default=None, min_length=1, max_length=200)
    inputs: list[V2Input] = Field(min_length=1)
    # `entity`: whose features these are, as Seldon's `meta.tags.entity` (the prediction log).
    parameters: dict[str, Any] = Field(default_factory=dict)


class Outcome(BaseModel):
    namespace: str = Field(min_length=1)
    revision: str = Field(min_length=1)
    reward: float = Field(ge=0)


class FailedError(Exception):
    """A request that gets an error response: (status, message)."""


@dataclass
class InferenceServices:
    plane: DataPlane
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    refused: dict[tuple[str, str], str] = field(default_factory=dict)
    metrics: kserve.KnativeMetrics = field(init=False)

    def __post_init__(self) -> None:
        self.metrics = kserve.KnativeMetrics(self.plane.metrics.registry)

    async def refresh(self) -> None:
        """Reconcile every InferenceService as KServe's controller would, and route to it."""
        listed = await self.plane.listed(knative.GROUP, knative.VERSION, knative.PLURAL)
        if listed is None:
            return
        for key, item in listed.items():
            try:
                await self._reconcile(key, item)
            except knative.InvalidServiceError as error:
                self.refused[key] = str(error)
        keep_only(listed, self.routes, self.refused)

    async def _reconcile(self, key: tuple[str, str], service: dict[str, Any]) -> None:
        uri, canary = knative.storage_uri(service), knative.canary_percent(service)
        if self.plane.model_servers:
            self._take_served(key, service, canary)
            return
        known = knative.remembered(service)
        older = {r.model_uri for r in known.created if r.name in _serving(known)}
        await self.plane.loaded({uri} | older)
        revisions = knative.reconcile(
            key[1], known, uri, canary, lambda r: r.model_uri in self.plane.models
        )
        failed = self.plane.load_errors.get(uri) if uri not in self.plane.models else None
        status = knative.status_of(service, revisions, canary, failed)
        if {k: (service.get("status") or {}).get(k) for k in status} != status:
            await self._write_status(key, status)
        route = kserve.route_of(service, revisions, canary)
        if all(p.model_uri in self.plane.models for p in route.live) and route.live:
            if self.routes.get(key) != route:
                self.metrics.start_at_zero(route)
            self.routes[key] = route
            self.refused.pop(key, None)
        else:
            self.refused[key] = f"no revision ready: {failed or 'loading'}"

    def _take_served(
        self, key: tuple[str, str], service: dict[str, Any], canary: int | None
    ) -> None:
        """Route to the revisions the KServe stand-in reports ready (its status), whose model
        server Pods answer; the stand-in, as KServe's controller, writes the status."""
        route = kserve.route_of(service, knative.remembered(service), canary)
        if not route.live:
            conditions = (service.get("status") or {}).get("conditions") or []
            said = next((c.get("message") for c in conditions if c.get("type") == "Ready"), None)
            self.refused[key] = f"no revision ready: {said or 'model servers starting'}"
            return
        if self.routes.get(key) != route:
            self.metrics.start_at_zero(route)
        self.routes[key] = route
        self.refused.pop(key, None)

    async def _write_status(self, key: tuple[str, str], status: dict[str, Any]) -> None:
        try:
            await asyncio.to_thread(
                self.plane.objects.patch_namespaced_custom_object_status,
                knative.GROUP,
                knative.VERSION,
                key[0],
                knative.PLURAL,
                key[1],
                {"status": status},
            )
        except ApiException as error:
            log.warning("status of InferenceService %s/%s: %s", *key, error.reason)

    def _route(self, request: web.Request) -> Route:
        address = kserve.addressed(request.headers.get("Host", ""))
        route = self.routes.get(address) if address else None
        if address is None or route is None or request.match_info["model"] != address[1]:
            why = self.refused.get(address, "no such InferenceService") if address else "no Host"
            raise FailedError(404, f"{request.headers.get('Host')}: {why}")
        return route

    async def _serve(self, route: Route, frame: pd.DataFrame) -> tuple[Predictor, Scores]:
        """One request through Knative's split: the revision it went to, and its scores."""
        revision = choose(route, random.random())
        started = time.perf_counter()
        code = 200
        try:
            return revision, await self.plane.predict(revision, frame, route)
        except Exception as error:
            code = 500
            raise FailedError(500, str(error)) from error
        finally:
            elapsed = (time.perf_counter() - started) * 1000
            self.metrics.observe(route, revision, code, elapsed)

    def add_routes(self, app: web.Application) -> None:
        async def v1(request: web.Request) -> web.Response:
            try:
                route = self._route(request)
                body = V1Request.model_validate_json(await request.read())
                frame = pd.DataFrame(body.instances)
                revision, scores = await self._serve(route, frame)
            except ValidationError as error:
                return _error(400, str(error))
            except FailedError as error:
                return _error(*error.args)
            # KServe v1 has no request id: one is made for the log.
            keys = [""] * len(frame)
            served = Served(route, revision, uuid.uuid4().hex, keys, body.instances, scores)
            self.plane.log_served(served)
            return web.json_response({"predictions": scores.rows()})

        async def v2(request: web.Request) -> web.Response:
            try:
                route = self._route(request)
                body = V2Request.model_validate_json(await request.read())
                columns = {i.name: _column(i) for i in body.inputs}
                frame = pd.DataFrame(columns)
                keys = entities(body.parameters, len(frame))
                revision, scores = await self._serve(route, frame)
            except (ValidationError, ValueError) as error:
                return _error(400, str(error))
            except FailedError as error:
                return _error(*error.args)
            request_id = body.id or uuid.uuid4().hex
            # The frame was built from these columns, so they are of one length.
            values = zip(*columns.values(), strict=True)
            rows = [dict(zip(columns, row, strict=True)) for row in values]
            self.plane.log_served(Served(route, revision, request_id, keys, rows, scores))
            # The revision that answered: so a client can count its outcomes per arm.
            return web.json_response(
                {
                    "model_name": route.deployment,
                    "model_version": revision.name,
                    "id": request_id,
                    "outputs": [scores.v2_output("output-0")],
                }
            )

        async def outcome(request: web.Request) -> web.Response:
            try:
                body = Outcome.model_validate_json(await request.read())
            except ValidationError as error:
                return _error(400, str(error))
            self.metrics.outcomes.labels(body.namespace, body.revision).inc()
            self.metrics.reward.labels(body.namespace, body.revision).inc(body.reward)
            return web.json_response(body.model_dump())

        async def services(_: web.Request) -> web.Response:
            return web.json_response(
                {
                    "services": [
                        {
                            "namespace": r.namespace,
                            "name": r.deployment,
                            "revisions": [
                                {"name": p.name, "percent": p.traffic, "modelUri": p.model_uri}
                                for p in r.live
                            ],
                        }
                        for r in self.routes.values()
                    ],
                    "refused": [
                        {"namespace": k[0], "name": k[1], "reason": why}
                        for k, why in self.refused.items()
                    ],
                }
            )

        app.router.add_post(r"/v1/models/{model:[^/:]+}:predict", v1)
        app.router.add_post("/v2/models/{model}/infer", v2)
        app.router.add_post("/v1/outcomes", outcome)
        app.router.add_get("/v1/inferenceservices", services)


def _serving(revisions: knative.Revisions) -> set[str]:
    return {r for r in (revisions.latest_ready, revisions.latest_rolledout) if r}


def _column(tensor: V2Input) -> list[Any]:
    """One feature's values: a tensor of shape [n] or [n, 1]."""
    if len(tensor.shape) > 2 or (len(tensor.shape) == 2 and tensor.shape[1] != 1):
        raise ValueError(f"input {tensor.name}: shape {tensor.shape} is not one feature's column")
    return tensor.data


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)
