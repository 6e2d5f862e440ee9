"""Users of a ranked list on the local data plane, for the length of a `with`.

Each query asks the deployment to rank a few candidates (examples drawn at random, in random
order); the user reads the answer top down and clicks as a cascade click model says (a relevant
candidate, one whose label is 1, is clicked far more often; after a click the user may stop),
and the clicks of an interleaved list go back to the data plane.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
import yaml

from paved_local.dataplane.load import Example
from tests.support.kubectl import Kubectl
from tests.support.seldon import predictor, seldon_deployment
from tests.support.waiting import wait_for

CLICK: Final = {0: 0.05, 1: 0.9}  # chance to click a candidate read, by its label
STOP: Final = 0.5  # chance to stop reading after a click


@dataclass
class Clicks:
    queries: int = 0
    failed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # the data plane's, per query


@contextmanager
def clicking_users(
    dataplane: str,
    namespace: str,
    deployment: str,
    examples: Sequence[Example],
    *,
    rate: float = 15.0,
    per_query: int = 8,
    seed: int = 0,
) -> Iterator[Clicks]:
    stop = threading.Event()
    clicks = Clicks()
    base = f"{dataplane}/seldon/{namespace}/{deployment}/api/v1.0"

    def run() -> None:
        draw = random.Random(seed)
        with httpx.Client(base_url=base, timeout=10) as client:
            while not stop.wait(1 / rate):
                try:
                    _query(client, draw, examples, per_query, clicks)
                except httpx.HTTPError:
                    clicks.failed += 1

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield clicks
    finally:
        stop.set()
        thread.join(timeout=30)


def _query(
    client: httpx.Client,
    draw: random.Random,
    examples: Sequence[Example],
    per_query: int,
    clicks: Clicks,
) -> None:
    chosen = draw.sample(range(len(examples)), per_query)
    names = list(examples[chosen[0]].features)
    rows = [[examples[i].features[name] for name in names] for i in chosen]
    body = {"data": {"names": names, "ndarray": rows}, "meta": {"tags": {"items": chosen}}}
    answer = client.post("/rank", json=body)
    clicks.queries += 1
    if answer.status_code != 200:
        clicks.failed += 1
        return
    shown: dict[str, Any] = answer.json()
    if not shown["meta"]["tags"].get("interleaved"):
        return
    labels = [examples[int(item)].label or 0 for item in shown["data"]["ndarray"]]
    clicked = client.post(
        "/clicks", json={"puid": shown["meta"]["puid"], "clicked": _cascade(labels, draw)}
    )
    if clicked.status_code == 200:
        clicks.outcomes[clicked.json()["outcome"]] += 1
    else:
        clicks.failed += 1


def _cascade(labels: Sequence[int], draw: random.Random) -> list[int]:
    """The positions a reader clicks, reading top down until a click makes them stop."""
    clicked = []
    for position, label in enumerate(labels):
        if draw.random() < CLICK[label]:
            clicked.append(position)
            if draw.random() < STOP:
                break
    return clicked


# Two candidates of one search (the ranking example's items), alike but for what makes an item
# appealing (rating, reviews): a ranker trained on the example's data ranks `loved` first.
SEARCH_CANDIDATES: Final = {
    "dull": {"rating": 1.0, "reviews": 2, "price": 20.0, "category": "books"},
    "loved": {"rating": 4.8, "reviews": 60, "price": 20.0, "category": "books"},
}


def rank_candidates(dataplane: str, namespace: str, items: list[str]) -> httpx.Response:
    """The SeldonDeployment `search`'s answer to a list of `SEARCH_CANDIDATES`, in this order."""
    names = list(SEARCH_CANDIDATES["dull"])
    rows = [[SEARCH_CANDIDATES[item][name] for name in names] for item in items]
    body = {"data": {"names": names, "ndarray": rows}, "meta": {"tags": {"items": items}}}
    url = f"{dataplane}/seldon/{namespace}/search/api/v1.0/rank"
    return httpx.post(url, json=body, timeout=10)


def serve_search(kubectl: Kubectl, dataplane: str, namespace: str, model_uri: str) -> None:
    """The SeldonDeployment `search` serving `model_uri`, once the data plane answers with it."""
    deployment = seldon_deployment("search", predictor("baseline", model_uri))
    kubectl.apply(yaml.safe_dump(deployment), "-n", namespace)
    wait_for(
        lambda: rank_candidates(dataplane, namespace, ["dull", "loved"]).status_code == 200,
        timeout=120,
        what="the data plane to serve the ranker",
    )
