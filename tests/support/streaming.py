"""A StreamingPrediction's world on the real Redis: a FeatureView with online values, a small
fitted model, a worker plan, and what the output and dead-letter streams hold."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import redis
from sklearn.linear_model import LogisticRegression

from paved.adapters.offline.duckdb import DuckDBEngine
from paved.adapters.online.redis import RedisOnlineStore
from paved.adapters.scoring.in_process import InProcessScorer
from paved.api.feature_view import FeatureViewSpec
from paved.api.streaming_prediction import StreamingPredictionSpec
from paved.core.feature_views import view_definition
from paved.core.streaming_predictions import (
    EVENT_FIELD,
    RESULT_FIELD,
    ChosenModel,
    Run,
    Subject,
    WorkerPlan,
    dead_letter_stream,
    decide,
)
from paved.features import FeatureStore
from paved.ports.monitoring import PredictionLogWriter
from paved.streaming_prediction import PredictionConsumer

VIEW = "activity"
FEATURE_VIEW: dict[str, Any] = {
    "entity": {"name": "user", "joinKeys": ["user_id"]},
    "source": {"path": "activity/*.parquet", "timestampField": "ts"},
    "features": [{"name": "clicks", "dtype": "int64"}, {"name": "minutes", "dtype": "float64"}],
}


def spec(stream: str, *, claim_idle: str = "3s", replicas: int = 1) -> StreamingPredictionSpec:
    return StreamingPredictionSpec.model_validate(
        {
            "input": {"stream": stream},
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "features": [f"{VIEW}:clicks", f"{VIEW}:minutes"],
            "model": {"name": "churn"},
            "workers": {"replicas": replicas, "batchSize": 100, "claimIdle": claim_idle},
        }
    )


def plan(namespace: str, name: str, stream: str, *, claim_idle: str = "3s") -> WorkerPlan:
    """The plan the operator would decide for these FeatureView and model."""
    subject = Subject(namespace, name, spec(stream, claim_idle=claim_idle))
    views = {VIEW: FeatureViewSpec.model_validate(FEATURE_VIEW)}
    decided = decide(subject, views, ChosenModel(f"{namespace}.churn", "1", "s3://unused"))
    assert isinstance(decided, Run), decided
    return decided.plan


def seed_features(
    client: redis.Redis, data_root: Path, namespace: str, users: Sequence[int], now: dt.datetime
) -> FeatureStore:
    """User u has clicks u and minutes u / 2 online; the store the workers read them from."""
    (data_root / namespace / "activity").mkdir(parents=True, exist_ok=True)
    view_spec = FeatureViewSpec.model_validate(FEATURE_VIEW)
    view = view_definition(VIEW, view_spec, str(data_root), namespace=namespace)
    online = RedisOnlineStore(client)
    rows = pa.table(
        {
            "user_id": pa.array(list(users), pa.int64()),
            "ts": pa.array(
                [now - dt.timedelta(minutes=1)] * len(users), pa.timestamp("us", tz="UTC")
            ),
            "clicks": pa.array(list(users), pa.int64()),
            "minutes": pa.array([u / 2 for u in users], pa.float64()),
        }
    )
    online.write(view, rows)
    return FeatureStore({VIEW: view}, DuckDBEngine(), online)


def model(leaning: int = 1) -> InProcessScorer:
    """Scores rise with clicks (`leaning` 1) or fall with them (-1): two models, two results."""
    clicks = np.arange(40, dtype=float)
    x = pd.DataFrame({"clicks": clicks, "minutes": clicks / 2})  # trained on named features
    y = (clicks > 20).astype(int) if leaning > 0 else (clicks <= 20).astype(int)
    return InProcessScorer(LogisticRegression().fit(x, y))


def consumer(
    plan: WorkerPlan,
    client: redis.Redis,
    store: FeatureStore,
    name: str,
    *,
    scoring: InProcessScorer | None = None,
    log: PredictionLogWriter | None = None,
) -> PredictionConsumer:
    return PredictionConsumer(
        plan,
        client=client,
        store=store,
        online=RedisOnlineStore(client),
        scoring=scoring or model(),
        consumer=name,
        log=log,
    )


def publish(client: redis.Redis, stream: str, events: Sequence[dict[str, Any]]) -> list[str]:
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.xadd(stream, {EVENT_FIELD: json.dumps(event)})
    return [entry.decode() for entry in pipe.execute()]


def results(client: redis.Redis, plan: WorkerPlan) -> list[dict[str, Any]]:
    """The output stream's results, in order."""
    entries: Any = client.xrange(plan.output_stream)
    return [json.loads(fields[RESULT_FIELD.encode()]) for _, fields in entries]


def parked(client: redis.Redis, plan: WorkerPlan) -> list[dict[str, str]]:
    entries: Any = client.xrange(dead_letter_stream(plan.namespace, plan.name))
    return [{k.decode(): v.decode() for k, v in fields.items()} for _, fields in entries]
