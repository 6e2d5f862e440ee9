"""A load generator for a SeldonDeployment on the data plane: steady requests, then feedback.

Each request is one example's features; when the example has a label, the caller's reward
function turns (score, label) into the business outcome and it goes back as Seldon feedback,
carrying the response so the reward counts for the predictor that served it.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import httpx


@dataclass(frozen=True)
class Example:
    features: Mapping[str, Any]
    label: int | None = None


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


async def _one(
    http: httpx.AsyncClient,
    base: str,
    example: Example,
    reward: Callable[[float, int], float],
    stats: LoadStats,
) -> None:
    names = list(example.features)
    body = {"data": {"names": names, "ndarray": [[example.features[n] for n in names]]}}
    stats.sent += 1
    try:
        response = await http.post(f"{base}/predictions", json=body)
    except httpx.HTTPError:
        stats.failed += 1
        return
    if response.status_code != 200:
        stats.failed += 1
        return
    answer = response.json()
    predictor = answer["meta"]["tags"]["predictor"]
    stats.by_predictor[predictor] += 1
    if example.label is None:
        return
    earned = reward(float(answer["data"]["ndarray"][0]), example.label)
    stats.rewards[predictor] += int(earned)
    with contextlib.suppress(httpx.HTTPError):
        await http.post(f"{base}/feedback", json={"response": answer, "reward": earned})


async def generate_load(
    dataplane: str,
    namespace: str,
    deployment: str,
    examples: Sequence[Example],
    rate: float,
    stop: asyncio.Event,
    reward: Callable[[float, int], float] = decision_reward,
    seed: int = 0,
) -> LoadStats:
    """Send `rate` requests a second, examples drawn at random, until `stop` is set."""
    if not examples:
        raise ValueError("the load generator needs at least one example")
    draw = random.Random(seed)
    stats = LoadStats()
    base = f"{dataplane}/seldon/{namespace}/{deployment}/api/v1.0"
    in_flight: set[asyncio.Task[None]] = set()
    loop = asyncio.get_running_loop()
    limits = httpx.Limits(max_connections=MAX_IN_FLIGHT, max_keepalive_connections=MAX_IN_FLIGHT)
    async with httpx.AsyncClient(timeout=10.0, limits=limits) as http:
        next_at = loop.time()
        while not stop.is_set():
            # Past the cap the server is not keeping up: a request is skipped, not queued, so a
            # stall never turns into a burst (and the client never drowns in its own queue).
            if len(in_flight) < MAX_IN_FLIGHT:
                task = asyncio.create_task(_one(http, base, draw.choice(examples), reward, stats))
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
