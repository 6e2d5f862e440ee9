"""A load generator for a SeldonDeployment or an InferenceService on the data plane: steady
requests, then feedback.

Each request is one example's features; when the example has a label, the caller's reward
function turns (score, label) into the business outcome. On Seldon it goes back as feedback,
carrying the response so the reward counts for the predictor that served it, and the label as
its truth (what the prediction log joins to the prediction); on KServe (which
has no feedback API) it is recorded for the revision the v2 response names, as an application
would count its business metric per arm.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, assert_never

import httpx

from paved.api.rollout import Backend


@dataclass(frozen=True)
class Example:
    features: Mapping[str, Any]
    label: int | None = None
    # The entity's join keys, sent as Seldon's `meta.tags.entity`: the prediction log keys the
    # prediction by it, so its outcome can become a training label.
    entity: Mapping[str, Any] | None = None


def decision_reward(score: float, label: int) -> float:
    """1 when acting on the score (offer a retention discount at 0.5) was the right call."""
    return 1.0 if (score >= 0.5) == bool(label) else 0.0


MAX_IN_FLIGHT: Final = 32


@dataclass
class LoadStats:
    sent: int = 0
    failed: int = 0
    skipped: int = 0  # not sent: MAX_IN_FLIGHT requests were still waiting for answers
    by_predictor: Counter[str] = field(default_factory=Counter)
    rewards: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class Wire:
    """How one backend is asked for a score, who answered, and where the outcome goes."""

    url: str
    headers: Mapping[str, str]
    body: Callable[[Example], dict[str, Any]]
    answer: Callable[[dict[str, Any]], tuple[str, float]]  # the arm that answered, its score
    # (answer, arm, reward, label) → where the outcome goes, and what it says.
    feedback: Callable[[dict[str, Any], str, float, int], tuple[str, dict[str, Any]]]


def _seldon(base: str) -> Wire:
    def body(example: Example) -> dict[str, Any]:
        names = list(example.features)
        data = {"names": names, "ndarray": [[example.features[n] for n in names]]}
        if example.entity is None:
            return {"data": data}
        return {"data": data, "meta": {"tags": {"entity": dict(example.entity)}}}

    return Wire(
        f"{base}/predictions",
        {},
        body,
        lambda answer: (answer["meta"]["tags"]["predictor"], float(answer["data"]["ndarray"][0])),
        lambda answer, _, earned, label: (
            f"{base}/feedback",
            # The truth is the request's label: the prediction log joins it to the prediction.
            {"response": answer, "reward": earned, "truth": {"data": {"ndarray": [[label]]}}},
        ),
    )


def _kserve(dataplane: str, namespace: str, name: str) -> Wire:
    """KServe's open inference protocol, addressed by Host as KServe's ingress is."""

    def body(example: Example) -> dict[str, Any]:
        return {
            "inputs": [
                {"name": n, "shape": [1], "datatype": "FP64", "data": [v]}
                for n, v in example.features.items()
            ]
        }

    return Wire(
        f"{dataplane}/v2/models/{name}/infer",
        {"Host": f"{name}.{namespace}.example.com"},
        body,
        lambda answer: (answer["model_version"], float(answer["outputs"][0]["data"][0])),
        lambda _, revision, earned, _label: (
            f"{dataplane}/v1/outcomes",
            {"namespace": namespace, "revision": revision, "reward": earned},
        ),
    )


async def _one(
    http: httpx.AsyncClient,
    wire: Wire,
    example: Example,
    reward: Callable[[float, int], float],
    stats: LoadStats,
) -> None:
    stats.sent += 1
    try:
        response = await http.post(wire.url, json=wire.body(example), headers=dict(wire.headers))
    except httpx.HTTPError:
        stats.failed += 1
        return
    if response.status_code != 200:
        stats.failed += 1
        return
    answer = response.json()
    arm, score = wire.answer(answer)
    stats.by_predictor[arm] += 1
    if example.label is None:
        return
    earned = reward(score, example.label)
    stats.rewards[arm] += int(earned)
    url, outcome = wire.feedback(answer, arm, earned, example.label)
    with contextlib.suppress(httpx.HTTPError):
        await http.post(url, json=outcome)


async def generate_load(
    dataplane: str,
    namespace: str,
    deployment: str,
    examples: Sequence[Example],
    rate: float,
    stop: asyncio.Event,
    reward: Callable[[float, int], float] = decision_reward,
    seed: int = 0,
    backend: Backend = Backend.SELDON_DEPLOYMENT,
) -> LoadStats:
    """Send `rate` requests a second to `deployment` (an object of `backend`), examples drawn at
    random, until `stop` is set."""
    if not examples:
        raise ValueError("the load generator needs at least one example")
    draw = random.Random(seed)
    stats = LoadStats()
    match backend:
        case Backend.SELDON_DEPLOYMENT:
            wire = _seldon(f"{dataplane}/seldon/{namespace}/{deployment}/api/v1.0")
        case Backend.INFERENCE_SERVICE:
            wire = _kserve(dataplane, namespace, deployment)
        case unreachable:
            assert_never(unreachable)
    in_flight: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:
        next_at = loop.time()
        while not stop.is_set():
            # Past the cap the server is not keeping up: a request is skipped, not queued, so a
            # stall never turns into a burst (and the client never drowns in its own queue).
            if len(in_flight) < MAX_IN_FLIGHT:
                task = asyncio.create_task(_one(http, wire, draw.choice(examples), reward, stats))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            else:
                stats.skipped += 1
            # A fixed schedule, not "sleep after each": slow answers do not lower the rate.
            next_at = max(next_at + 1.0 / rate, loop.time() - 1.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - loop.time()))
        if in_flight:
            await asyncio.wait(in_flight)
    return stats
