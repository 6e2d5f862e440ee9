"""The data plane's HTTP server: Seldon v1's and KServe's paths and metrics, faults, routes.

POST /seldon/{namespace}/{deployment}/api/v1.0/predictions   Seldon's message: {"data": {"names":
                                                              [...], "ndarray": [[...], ...]}}
POST /seldon/{namespace}/{deployment}/api/v1.0/feedback      {"response": <a prediction's
                                                              response>, "reward": 1.0}
POST /seldon/{namespace}/{deployment}/v2/models/{model}/infer  Seldon's V2 path: inputs are
                                                              columns ({"name", "data"} each)
POST /seldon/{namespace}/{deployment}/api/v1.0/rank          paved's: a Seldon message whose rows
                                                              are candidates (`meta.tags.items`
                                                              names them), answered with their
                                                              order; interleaved during a
                                                              Rollout's interleave step
POST /seldon/{namespace}/{deployment}/api/v1.0/clicks        {"puid": <the ranking's>, "clicked":
                                                              [positions]}: the query's win,
                                                              loss or tie (`interleaving`)
POST /v1/models/{name}:predict     KServe v1, addressed by Host <name>.<namespace>.example.com
POST /v2/models/{name}/infer        KServe's open inference protocol (v2), addressed the same way
POST /v1/outcomes                   a business outcome per revision (KServe has no feedback)
GET  /metrics                       Seldon's executor histogram and feedback counters, Knative's
                                    revision metrics, paved's score histogram, for Prometheus
GET  /v1/deployments                the routes served now, and deployments refused with why
GET|PUT|DELETE /v1/faults           injected faults per model URI: error rate, latency, score shift
GET  /healthz

With --model-servers (the chart's `dataplane.modelServers`) it is Seldon's executor on a
cluster: a SeldonDeployment's requests go to its predictors' MLServer Pods over the V2 protocol
(`model_servers`), and the Seldon stand-in writes the deployments' status; without it, as on
`paved local`, each model is fetched and loaded in this process.

A prediction names the predictor that served it in `meta.tags.predictor`; feedback that carries
the response goes to that predictor, so a reward counts for the model that earned it (Seldon's
ingress sends feedback wherever the weights say, which muddles an A/B test).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import importlib.resources
import logging
import math
import os
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import httpx
import mlflow.sklearn
import pandas as pd
import yaml
from aiohttp import web
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from paved.core.interleaving import team_draft
from paved_local.dataplane import model_servers, prediction_log, storage
from paved_local.dataplane.interleaving import (
    Interleavings,
    RankingRequest,
    UnknownQueryError,
    ranking,
)
from paved_local.dataplane.kserve_http import InferenceServices
from paved_local.dataplane.routing import (
    InvalidDeploymentError,
    Predictor,
    Route,
    available_part,
    choose,
    deployment_status,
    keep_only,
    route_of,
)
from paved_local.dataplane.scores import NotOneScoreError, Scores

log = logging.getLogger("paved_local.dataplane")

GROUP: Final = "machinelearning.seldon.io"
# Seldon v1 executor's buckets (executor/api/metric/constants.go).
SELDON_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10)
SCORE_BUCKETS: Final = tuple(round(0.1 * k, 1) for k in range(1, 11))
REFRESH_SECONDS: Final = 1.0
LOAD_RETRY_SECONDS: Final = 10.0
MAX_RETRY_SECONDS: Final = 300.0
# Mirrors waiting for their shadow's answer at once; past it a request is not mirrored (and
# counted): a shadow that hangs (its Pod gone, a Service name still cached by DNS) must cost
# the live path nothing, so it never queues behind the shadow's requests.
MAX_MIRRORS_IN_FLIGHT: Final = 32


class Fault(BaseModel):
    """What goes wrong when a model serves: for tests and the demo."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    model_uri: str = Field(alias="modelUri", min_length=1)
    predictor: str | None = Field(
        default=None, description="Only when served as this predictor (e.g. not as the shadow)."
    )
    error_rate: float = Field(default=0.0, ge=0, le=1, alias="errorRate")
    latency_ms: float = Field(default=0.0, ge=0, le=60_000, alias="latencyMs")
    score_shift: float = Field(default=0.0, ge=-1, le=1, alias="scoreShift")


class SeldonData(BaseModel):
    names: list[str] = Field(min_length=1)
    ndarray: list[list[Any]] = Field(min_length=1)


class SeldonMeta(BaseModel):
    """Seldon's request meta: `puid` names the request (kept in the answer, as Seldon's
    executor does, else generated); `tags.entity` names whose features these are."""

    puid: str | None = Field(default=None, min_length=1, max_length=200)
    tags: dict[str, Any] = Field(default_factory=dict)


class PredictionRequest(BaseModel):
    data: SeldonData
    meta: SeldonMeta = Field(default_factory=SeldonMeta)


class V2Input(BaseModel):
    name: str = Field(min_length=1)
    data: list[Any] = Field(min_length=1)


class V2Request(BaseModel):
    """A V2 inference request whose inputs are the columns of the rows to score; its
    `parameters.entity` names whose rows they are, as Seldon's `meta.tags.entity` does."""

    id: str | None = Field(default=None, min_length=1, max_length=200)
    inputs: list[V2Input] = Field(min_length=1)
    parameters: dict[str, Any] = Field(default_factory=dict)


@dataclass(frozen=True)
class Rows:
    """A request's rows to score, and what the prediction log keeps of it."""

    frame: pd.DataFrame
    request_id: str  # the caller's (`meta.puid`, a V2 `id`), else a fresh one
    entities: list[str]  # each row's entity from the request (`meta.tags.entity`), or ""
    features: list[dict[str, Any]]  # each row by name, as the request gave it

    @classmethod
    def of_v1(cls, raw: bytes) -> Rows:
        body = PredictionRequest.model_validate_json(raw)
        frame = pd.DataFrame(body.data.ndarray, columns=body.data.names)
        entities = prediction_log.entities(body.meta.tags, len(frame))
        features = [dict(zip(body.data.names, row, strict=False)) for row in body.data.ndarray]
        return cls(frame, body.meta.puid or uuid.uuid4().hex, entities, features)

    @classmethod
    def of_v2(cls, raw: bytes) -> Rows:
        body = V2Request.model_validate_json(raw)
        frame = pd.DataFrame({i.name: i.data for i in body.inputs})
        features = [dict(zip(frame.columns, row, strict=True)) for row in frame.itertuples(False)]
        entities = prediction_log.entities(body.parameters, len(frame))
        return cls(frame, body.id or uuid.uuid4().hex, entities, features)


class FeedbackRequest(BaseModel):
    response: dict[str, Any] = Field(default_factory=dict)
    reward: float = Field(ge=0)
    # Seldon's truth: the request's labels (a SeldonMessage), logged as its predictions' outcomes.
    truth: dict[str, Any] | None = None


class Metrics:
    """Seldon v1's series, plus the namespace label a cluster's scrape would add."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        base = ["namespace", "deployment_name", "predictor_name", "predictor_version"]
        self.requests = Histogram(
            "seldon_api_executor_server_requests_seconds",
            "Seldon executor: server request latency",
            [*base, "service", "method", "code"],
            buckets=SELDON_BUCKETS,
            registry=self.registry,
        )
        self.feedback = Counter(
            "seldon_api_model_feedback",
            "Seldon: feedback requests",
            [*base, "model_name"],
            registry=self.registry,
        )
        self.reward = Counter(
            "seldon_api_model_feedback_reward",
            "Seldon: summed feedback reward",
            [*base, "model_name"],
            registry=self.registry,
        )
        self.mirrors_dropped = Counter(
            "paved_dataplane_mirrors_dropped",
            "Requests not mirrored to the shadow: too many mirrors were waiting for answers",
            base,
            registry=self.registry,
        )
        self.scores = Histogram(
            "paved_prediction_score",
            "The scores a predictor returns (its output distribution)",
            base,
            buckets=SCORE_BUCKETS,
            registry=self.registry,
        )

    def start_at_zero(self, route: Route) -> None:
        """Create each predictor's series before its first request.

        A counter first scraped at 20 has no increase to Prometheus (`rate` needs a sample
        before the jump), so errors in a predictor's first seconds would go unseen.
        """
        for predictor in [*route.live, *([route.shadow] if route.shadow else [])]:
            labels = self.labels(route, predictor)
            for code in ("200", "500"):
                self.requests.labels(**labels, service="predictions", method="post", code=code)
            self.feedback.labels(**labels, model_name=predictor.model_uri)
            self.reward.labels(**labels, model_name=predictor.model_uri)

    def labels(self, route: Route, predictor: Predictor) -> dict[str, str]:
        return {
            "namespace": route.namespace,
            "deployment_name": route.deployment,
            "predictor_name": predictor.name,
            "predictor_version": predictor.version,
        }


class PredictorFailedError(Exception):
    """A predictor answered with an error (injected or real)."""


class Batcher:
    """Adaptive batching, as model servers do it: requests that arrive while a model is scoring
    wait and are scored together in one call. A scikit-learn call costs milliseconds whether it
    scores one row or a hundred, so under load this is what keeps latency flat."""

    def __init__(self, model: Any, max_rows: int = 256) -> None:
        self._model = model
        self._max_rows = max_rows
        self._waiting: list[tuple[pd.DataFrame, asyncio.Future[Scores]]] = []
        self._draining: asyncio.Task[None] | None = None

    async def score(self, frame: pd.DataFrame) -> Scores:
        future: asyncio.Future[Scores] = asyncio.get_running_loop().create_future()
        self._waiting.append((frame, future))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self._waiting:
            batch: list[tuple[pd.DataFrame, asyncio.Future[Scores]]] = []
            rows = 0
            while self._waiting and (
                not batch or rows + len(self._waiting[0][0]) <= self._max_rows
            ):
                frame, future = self._waiting.pop(0)
                batch.append((frame, future))
                rows += len(frame)
            try:
                combined = pd.concat([frame for frame, _ in batch], ignore_index=True)
                # Off the event loop, so requests keep arriving (and batching) while it scores.
                scores = await asyncio.to_thread(_scores, self._model, combined)
            except Exception as error:  # whatever a model raises fails its batch, not the server
                for _, future in batch:
                    future.set_exception(PredictorFailedError(str(error)))
                continue
            start = 0
            for frame, future in batch:
                future.set_result(scores.take(start, start + len(frame)))
                start += len(frame)


def _scores(model: Any, frame: pd.DataFrame) -> Scores:
    """A classifier's probabilities (the positive class's, or each class's: `scores`); a
    regressor, which has none, its value (as a model server's pyfunc answers)."""
    if hasattr(model, "predict_proba"):
        return Scores.of_model(model.predict_proba(frame))
    return Scores.of_model(model.predict(frame))


@dataclass
class DataPlane:
    objects: client.CustomObjectsApi
    cache: Path  # where models are fetched to, as a model server pod's /mnt/models
    # On a cluster: Seldon's executor, in front of the model server Pods the Seldon stand-in
    # creates (which then writes the SeldonDeployments' status); otherwise models load here.
    model_servers: bool = False
    http: httpx.AsyncClient | None = None
    # The shadows' own connections: a slow or vanished shadow cannot hold the live path's.
    mirror_http: httpx.AsyncClient | None = None
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)
    refused: dict[tuple[str, str], str] = field(default_factory=dict)
    faults: dict[str, Fault] = field(default_factory=dict)
    models: dict[str, Batcher] = field(default_factory=dict)
    load_errors: dict[str, str] = field(default_factory=dict)
    retry_at: dict[str, float] = field(default_factory=dict)  # monotonic time, per model URI
    failures: dict[str, int] = field(default_factory=dict)  # in a row, per model URI
    metrics: Metrics = field(default_factory=Metrics)
    mirrors: set[asyncio.Task[None]] = field(default_factory=set)
    mirror_errors: set[str] = field(default_factory=set)  # the shadows' failures, logged once
    logger: prediction_log.PredictionLogger | None = None  # None: predictions not logged
    # (endpoint, model URI) whose model server has said its model is ready (ADR 0038).
    ready: set[tuple[str, str]] = field(default_factory=set)
    interleavings: Interleavings = field(init=False)

    def __post_init__(self) -> None:
        self.interleavings = Interleavings(self.metrics.registry)

    def start_at_zero(self, route: Route) -> None:
        """A new route's series from 0: its predictors' and, interleaving, its outcomes'."""
        self.metrics.start_at_zero(route)
        self.interleavings.start_at_zero(route)

    def log_served(self, served: prediction_log.Served) -> None:
        """Hand a served request's records to the log, if logging is on and it is sampled."""
        if self.logger is not None and self.logger.wanted(served.request_id):
            for record in prediction_log.prediction_records(served, dt.datetime.now(dt.UTC)):
                self.logger.offer(record)

    def log_feedback(
        self, route: Route, predictor: Predictor, puid: object, body: FeedbackRequest
    ) -> None:
        """Log the feedback's reward and truth; ValueError names a truth that is no label."""
        labels = prediction_log.truths(body.truth)
        if self.logger is not None and isinstance(puid, str) and self.logger.wanted(puid):
            records = prediction_log.feedback_records(
                route,
                predictor,
                puid,
                reward=body.reward,
                truths=labels,
                now=dt.datetime.now(dt.UTC),
            )
            for record in records:
                self.logger.offer(record)

    async def refresh(self) -> None:
        """Take the SeldonDeployments as they are now; a route changes only once its models load."""
        listed = await self.listed(GROUP, "v1", "seldondeployments")
        if listed is None:
            return
        for key, item in listed.items():
            try:
                route = route_of(item)
            except InvalidDeploymentError as error:
                self.refused[key] = str(error)
                continue
            await self._take(key, item, route)
        keep_only(listed, self.routes, self.refused)
        # Forget the model servers no route names any more: one back under the same name
        # (a shadow's Service, recreated) is asked again.
        named = {(p.endpoint, p.model_uri) for r in self.routes.values() for p in r.predictors}
        self.ready &= named

    async def _take(self, key: tuple[str, str], item: dict[str, Any], route: Route) -> None:
        """Serve `route` once its models are loaded, and say so in the deployment's status."""
        if self.model_servers:
            await self._take_served(key, item, route)
            return
        if await self.loaded(route.models):
            if self.routes.get(key) != route:
                self.start_at_zero(route)
            self.routes[key] = route
            self.refused.pop(key, None)
        else:
            failed = "; ".join(self.load_errors.get(u, u) for u in route.models)
            self.refused[key] = f"models not loaded: {failed}"
        errors = [self.load_errors[u] for u in sorted(route.models) if u in self.load_errors]
        status = deployment_status(self.routes.get(key) == route, errors)
        await self._write_status(key, item, status)

    async def _take_served(self, key: tuple[str, str], item: dict[str, Any], route: Route) -> None:
        """Serve what of `route` has a model server replica available and its model ready: a
        predictor still starting gets no traffic yet, and one the spec dropped none at once (its
        Pod and Service are going). Until a live predictor of the new spec answers, the last
        route goes on."""
        waiting = model_servers.unavailable(route, item.get("status") or {})
        waiting += await self._not_ready(route, waiting)
        if waiting:
            state = (item.get("status") or {}).get("description") or "model servers starting"
            self.refused[key] = f"no model server available for {', '.join(waiting)}: {state}"
        else:
            self.refused.pop(key, None)
        serving = available_part(route, waiting)
        if serving is None:
            return
        if self.routes.get(key) != serving:
            self.start_at_zero(serving)
        self.routes[key] = serving

    async def _not_ready(self, route: Route, waiting: list[str]) -> list[str]:
        """The predictors of `route` (beyond `waiting`) whose model server has not yet said its
        model is ready. The Deployment's available replicas are not enough: the status can
        still name the Deployment a predictor of the same name had (a shadow's, one rollout
        ago), and a model server answers 404 while its model loads. Each (endpoint, model) is
        asked until it says ready once; then its failures count as the guardrails see them."""
        found = []
        for predictor in route.predictors:
            if predictor.name in waiting or not predictor.endpoint or self.http is None:
                continue
            served = (predictor.endpoint, predictor.model_uri)
            if served in self.ready:
                continue
            if await model_servers.answers_ready(self.http, predictor):
                self.ready.add(served)
            else:
                found.append(predictor.name)
        return found

    async def _write_status(
        self, key: tuple[str, str], deployment: dict[str, Any], status: dict[str, Any]
    ) -> None:
        """What Seldon's controller says of a deployment: written only when it changes."""
        if {k: (deployment.get("status") or {}).get(k) for k in status} == status:
            return
        try:
            await asyncio.to_thread(
                self.objects.patch_namespaced_custom_object_status,
                GROUP,
                "v1",
                key[0],
                "seldondeployments",
                key[1],
                {"status": status},
            )
        except ApiException as error:
            log.warning("status of SeldonDeployment %s/%s: %s", *key, error.reason)

    async def listed(
        self, group: str, version: str, plural: str
    ) -> dict[tuple[str, str], dict[str, Any]] | None:
        """Every object of a kind, cluster-wide, by (namespace, name); None (and a warning) when
        the API refuses."""
        try:
            found = await asyncio.to_thread(
                self.objects.list_cluster_custom_object, group, version, plural
            )
        except ApiException as error:
            log.warning("listing %s: %s", plural, error.reason)
            return None
        return {(i["metadata"]["namespace"], i["metadata"]["name"]): i for i in found["items"]}

    async def loaded(self, uris: set[str]) -> bool:
        """Whether every model in `uris` is loaded, loading those that are not yet."""
        now = time.monotonic()
        for uri in [uri for uri in uris if uri not in self.models]:
            # A model that failed to load is tried again later, not on every refresh.
            if self.retry_at.get(uri, 0.0) <= now:
                await self._load(uri)
        return all(uri in self.models for uri in uris)

    async def _load(self, uri: str) -> None:
        """Fetch the model as the storage initializer does, then load it from the local copy,
        as the model server loads /mnt/models."""
        try:
            local = await asyncio.to_thread(storage.fetch, uri, self.cache)
            self.models[uri] = Batcher(await asyncio.to_thread(mlflow.sklearn.load_model, local))
            self.load_errors.pop(uri, None)
            self.failures.pop(uri, None)
            log.info("loaded %s", uri)
        except storage.StorageUriRefusedError as error:
            # The URI cannot become fetchable: the spec has to change.
            self.load_errors[uri] = str(error)
            self.retry_at[uri] = math.inf
            log.warning("refused %s", error)
        except Exception as error:  # any failure to load is reported per model, not fatal
            self.load_errors[uri] = f"{uri}: {error}"
            # Backing off as a crash-looping init container does: 10 s, doubling, to 5 min.
            self.failures[uri] = self.failures.get(uri, 0) + 1
            delay = min(MAX_RETRY_SECONDS, LOAD_RETRY_SECONDS * 2 ** (self.failures[uri] - 1))
            self.retry_at[uri] = time.monotonic() + delay
            log.warning("loading %s: %s", uri, error)

    async def serve(self, route: Route, predictor: Predictor, frame: pd.DataFrame) -> Scores:
        """One predictor's scores for `frame`, with its metrics, as Seldon's executor times them."""
        started = time.perf_counter()
        code = "200"
        try:
            return await self.predict(predictor, frame, route)
        except PredictorFailedError:
            code = "500"
            raise
        finally:
            self.metrics.requests.labels(
                **self.metrics.labels(route, predictor),
                service="predictions",
                method="post",
                code=code,
            ).observe(time.perf_counter() - started)

    async def predict(self, predictor: Predictor, frame: pd.DataFrame, route: Route) -> Scores:
        """`predictor`'s scores for `frame`, faults applied, into the score histogram."""
        fault = self.faults.get(predictor.model_uri)
        if fault is not None and fault.predictor not in (None, predictor.name):
            fault = None
        if fault is not None and fault.latency_ms > 0:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault is not None and random.random() < fault.error_rate:
            raise PredictorFailedError(f"injected error in {predictor.model_uri}")
        try:
            scores = await self._score(route, predictor, frame)
        except (PredictorFailedError, model_servers.ModelServerFailedError) as error:
            raise PredictorFailedError(f"{predictor.model_uri}: {error}") from error
        if fault is not None and fault.score_shift:
            scores = scores.shifted(fault.score_shift)
        histogram = self.metrics.scores.labels(**self.metrics.labels(route, predictor))
        for score in scores.headline():
            histogram.observe(float(score))
        return scores

    async def _score(self, route: Route, predictor: Predictor, frame: pd.DataFrame) -> Scores:
        """The model's scores: from its model server Pod on a cluster (a SeldonDeployment
        predictor's or an InferenceService revision's), or its model loaded here, as locally."""
        http = self.mirror_http if predictor.shadow else self.http
        if http is not None and predictor.endpoint:
            return await model_servers.infer(http, route, predictor, frame=frame)
        return await self.models[predictor.model_uri].score(frame)

    async def rank(
        self, route: Route, frame: pd.DataFrame, items: list[str], request_id: str
    ) -> tuple[list[str], dict[str, Any]]:
        """The items' order for the user, and what the answer's tags say of it: the chosen
        predictor's ranking, or while interleaving the team-draft merge of both arms' (kept
        for the clicks). When one arm fails the other's ranking is the answer, not interleaved:
        its failure is counted on its predictor, where the guardrails see it."""
        arms = route.arms()
        if arms is None:
            predictor = choose(route, random.random())
            scores = await self.serve(route, predictor, frame)
            return ranking(items, scores.single()), {"predictor": predictor.name}
        baseline, candidate = arms
        answers = await asyncio.gather(
            self.serve(route, baseline, frame),
            self.serve(route, candidate, frame),
            return_exceptions=True,
        )
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, PredictorFailedError):
                raise answer
        scored = [
            (arm, answer)
            for arm, answer in zip(arms, answers, strict=True)
            if isinstance(answer, Scores)
        ]
        if len(scored) < 2:
            if not scored:
                raise PredictorFailedError("; ".join(str(a) for a in answers))
            arm, scores = scored[0]
            return ranking(items, scores.single()), {"predictor": arm.name}
        (_, baseline_scores), (_, candidate_scores) = scored
        merged = team_draft(
            ranking(items, baseline_scores.single()),
            ranking(items, candidate_scores.single()),
            seed=request_id,
        )
        self.interleavings.remember(route, request_id, merged)
        return list(merged.items), {"interleaved": True}

    def mirror(self, route: Route, frame: pd.DataFrame) -> None:
        """Send the same request to the shadow; its answer (or failure) is only measured."""
        if route.shadow is None:
            return
        shadow = route.shadow
        if len(self.mirrors) >= MAX_MIRRORS_IN_FLIGHT:
            self.metrics.mirrors_dropped.labels(**self.metrics.labels(route, shadow)).inc()
            return

        async def shadowed() -> None:
            try:
                await self.serve(route, shadow, frame)
            except PredictorFailedError as error:
                # Only measured, never answered: say each distinct failure once, or nothing would.
                if str(error) not in self.mirror_errors:
                    self.mirror_errors.add(str(error))
                    log.warning(
                        "shadow %s of %s/%s: %s",
                        shadow.name,
                        route.namespace,
                        route.deployment,
                        error,
                    )

        task = asyncio.create_task(shadowed())
        self.mirrors.add(task)
        task.add_done_callback(self.mirrors.discard)


def _error(status: int, message: str) -> web.Response:
    return web.json_response(
        {"status": {"code": status, "info": message, "status": "FAILURE"}}, status=status
    )


def application(plane: DataPlane) -> web.Application:
    def route_for(request: web.Request) -> Route | web.Response:
        key = (request.match_info["namespace"], request.match_info["deployment"])
        route = plane.routes.get(key)
        if route is None:
            why = plane.refused.get(key, "no such SeldonDeployment (or not loaded yet)")
            return _error(404 if key not in plane.refused else 503, f"{key[0]}/{key[1]}: {why}")
        return route

    async def scored(
        request: web.Request, parse: Callable[[bytes], Rows]
    ) -> tuple[Predictor, Scores, Rows] | web.Response:
        """The rows `parse` reads from the request, scored by the predictor the split chooses
        (mirrored to the shadow, logged); an error response when they cannot be."""
        route = route_for(request)
        if isinstance(route, web.Response):
            return route
        try:
            rows = parse(await request.read())
        except (ValidationError, ValueError) as error:
            return _error(400, str(error))
        predictor = choose(route, random.random())
        plane.mirror(route, rows.frame)
        try:
            scores = await plane.serve(route, predictor, rows.frame)
        except PredictorFailedError as error:
            return _error(500, str(error))
        served = (rows.request_id, rows.entities, rows.features, scores)
        plane.log_served(prediction_log.Served(route, predictor, *served))
        return predictor, scores, rows

    async def predictions(request: web.Request) -> web.Response:
        answer = await scored(request, Rows.of_v1)
        if isinstance(answer, web.Response):
            return answer
        predictor, scores, rows = answer
        return web.json_response(
            {
                "data": {"names": scores.names(), "ndarray": scores.rows()},
                "meta": {
                    "puid": rows.request_id,
                    "tags": {"predictor": predictor.name, "model": predictor.model_uri},
                    "requestPath": {predictor.name: predictor.model_uri},
                },
            }
        )

    async def infer_v2(request: web.Request) -> web.Response:
        """Seldon's V2 path: a V2 request (one input a column) to the chosen predictor."""
        answer = await scored(request, Rows.of_v2)
        if isinstance(answer, web.Response):
            return answer
        predictor, scores, rows = answer
        output = scores.v2_output("score")
        return web.json_response(
            {
                "model_name": request.match_info["model"],
                "id": rows.request_id,
                "parameters": {"predictor": predictor.name},
                "outputs": [output],
            }
        )

    async def rank(request: web.Request) -> web.Response:
        route = route_for(request)
        if isinstance(route, web.Response):
            return route
        try:
            body = RankingRequest.model_validate_json(await request.read())
            items, frame = body.items(), body.frame()
        except (ValidationError, ValueError) as error:
            return _error(400, str(error))
        request_id = body.meta.puid or uuid.uuid4().hex
        try:
            order, tags = await plane.rank(route, frame, items, request_id)
        except PredictorFailedError as error:
            return _error(500, str(error))
        except NotOneScoreError as error:
            return _error(400, f"{route.namespace}/{route.deployment} cannot rank: {error}")
        names = {"names": ["item"], "ndarray": order}
        return web.json_response({"data": names, "meta": {"puid": request_id, "tags": tags}})

    async def clicks(request: web.Request) -> web.Response:
        """A list's clicks: 404 for a list not awaiting them, 400 for positions off it."""
        route = route_for(request)
        if isinstance(route, web.Response):
            return route
        try:
            attributed = plane.interleavings.report(route, await request.read())
        except UnknownQueryError as error:
            return _error(404, str(error))
        except (ValidationError, ValueError) as error:
            return _error(400, str(error))
        return web.json_response(attributed)

    async def feedback(request: web.Request) -> web.Response:
        route = route_for(request)
        if isinstance(route, web.Response):
            return route
        started = time.perf_counter()
        try:
            body = FeedbackRequest.model_validate_json(await request.read())
        except ValidationError as error:
            return _error(400, str(error))
        meta = body.response.get("meta") or {}
        named = (meta.get("tags") or {}).get("predictor")
        predictor = next((p for p in route.live if p.name == named), None) or choose(
            route, random.random()
        )
        try:
            plane.log_feedback(route, predictor, meta.get("puid"), body)
        except ValueError as error:
            return _error(400, str(error))
        labels = plane.metrics.labels(route, predictor)
        plane.metrics.feedback.labels(**labels, model_name=predictor.model_uri).inc()
        plane.metrics.reward.labels(**labels, model_name=predictor.model_uri).inc(body.reward)
        plane.metrics.requests.labels(
            **labels, service="feedback", method="post", code="200"
        ).observe(time.perf_counter() - started)
        return web.json_response({"meta": {"tags": {"predictor": predictor.name}}})

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            body=generate_latest(plane.metrics.registry),
            headers={"Content-Type": CONTENT_TYPE_LATEST},
        )

    async def deployments(_: web.Request) -> web.Response:
        return web.json_response(
            {
                "routes": [
                    {
                        "namespace": r.namespace,
                        "deployment": r.deployment,
                        "live": [
                            {"name": p.name, "traffic": p.traffic, "modelUri": p.model_uri}
                            for p in r.live
                        ],
                        "shadow": r.shadow.name if r.shadow else None,
                    }
                    for r in plane.routes.values()
                ],
                "refused": [
                    {"namespace": k[0], "deployment": k[1], "reason": why}
                    for k, why in plane.refused.items()
                ],
            }
        )

    async def get_faults(_: web.Request) -> web.Response:
        return web.json_response([f.model_dump(by_alias=True) for f in plane.faults.values()])

    async def put_fault(request: web.Request) -> web.Response:
        try:
            fault = Fault.model_validate_json(await request.read())
        except ValidationError as error:
            return _error(400, str(error))
        plane.faults[fault.model_uri] = fault
        return web.json_response(fault.model_dump(by_alias=True))

    async def delete_fault(request: web.Request) -> web.Response:
        plane.faults.pop(request.query.get("modelUri", ""), None)
        return web.json_response([f.model_dump(by_alias=True) for f in plane.faults.values()])

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def refreshing(_: web.Application) -> AsyncIterator[None]:
        if plane.model_servers:
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
            plane.http = httpx.AsyncClient(limits=limits)
            mirrors = httpx.Limits(
                max_connections=MAX_MIRRORS_IN_FLIGHT,
                max_keepalive_connections=MAX_MIRRORS_IN_FLIGHT,
            )
            plane.mirror_http = httpx.AsyncClient(limits=mirrors)

        async def loop() -> None:
            while True:
                await plane.refresh()
                await services.refresh()
                await asyncio.sleep(REFRESH_SECONDS)

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        if plane.logger is not None:
            await asyncio.to_thread(plane.logger.close)
        for http in (plane.http, plane.mirror_http):
            if http is not None:
                await http.aclose()

    app = web.Application()
    services = InferenceServices(plane)
    services.add_routes(app)
    prefix = "/seldon/{namespace}/{deployment}/api/v1.0"
    app.router.add_post(f"{prefix}/predictions", predictions)
    app.router.add_post(f"{prefix}/feedback", feedback)
    app.router.add_post(f"{prefix}/rank", rank)
    app.router.add_post(f"{prefix}/clicks", clicks)
    app.router.add_post("/seldon/{namespace}/{deployment}/v2/models/{model}/infer", infer_v2)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/v1/deployments", deployments)
    app.router.add_get("/v1/faults", get_faults)
    app.router.add_put("/v1/faults", put_fault)
    app.router.add_delete("/v1/faults", delete_fault)
    app.router.add_get("/healthz", healthz)
    app.cleanup_ctx.append(refreshing)
    app.on_startup.append(_freeze_heap)
    return app


async def _freeze_heap(_: web.Application) -> None:
    # As the feature server does: what start-up left is never garbage, and full collections
    # walking it mid-request stretch the tail (paved.feature_server.freeze_heap says by how much).
    gc.collect()
    gc.freeze()


def ensure_serving_crds(api: client.ApiClient) -> None:
    """Locally the data plane is Seldon and KServe, so it brings their CRDs along when missing."""
    for name in ("seldondeployments.yaml", "inferenceservices.yaml"):
        manifest = importlib.resources.files("paved_local") / "crds" / name
        body = yaml.safe_load(manifest.read_text())
        try:
            client.ApiextensionsV1Api(api).create_custom_resource_definition(body)
        except ApiException as error:
            if error.status != 409:
                raise


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m paved_local.dataplane", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    # Loopback on the embedded platform; a Pod listens on every address so its Service reaches it.
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--kubeconfig", default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--model-cache", type=Path, required=True)
    parser.add_argument(
        "--prediction-log-root",
        type=Path,
        help="log predictions and feedback under <this>/<namespace>/ (default: not logged)",
    )
    parser.add_argument("--prediction-log-rate", type=float, default=1.0, help="share logged")
    parser.add_argument(
        "--model-servers",
        action="store_true",
        help="forward to the model server Pods the Seldon stand-in creates, loading no model",
    )
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    api = config.new_client_from_config(config_file=arguments.kubeconfig)
    ensure_serving_crds(api)
    plane = DataPlane(
        client.CustomObjectsApi(api), arguments.model_cache, model_servers=arguments.model_servers
    )
    if arguments.prediction_log_root is not None:
        settings = prediction_log.LogSettings(
            arguments.prediction_log_root, rate=arguments.prediction_log_rate
        )
        plane.logger = prediction_log.PredictionLogger(settings, plane.metrics.registry)
    web.run_app(application(plane), host=arguments.host, port=arguments.port, print=None)
