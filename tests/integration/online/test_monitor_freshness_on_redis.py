"""A ModelMonitor's freshness check against the platform's real Redis: the rows the online store
holds for the entities the production model served are judged by the store's own ttl and SLO
verdicts, so an entity whose row stopped being written is stale while its neighbours are fresh."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest
import redis

from paved.adapters.online.redis import RedisOnlineStore
from paved.api.crds import MODEL_MONITOR
from paved.api.feature_view import FeatureViewSpec
from paved.core.feature_views import ViewDefinition, view_definition
from paved_local.platform import Endpoints
from tests.support.adapter import Event, body, recorded_events
from tests.support.scripted_ports import indices
from tests.support.training import example
from tests.unit.controllers.test_model_monitor_features import (
    SPEC,
    TRAINED_ON,
    USERS,
    log_predictions,
    monitor,
    write_source,
)

__all__ = ["recorded_events"]  # the fixture, for pytest

WEEK_OLD = 20  # users whose rows the pipeline stopped writing three days ago


@pytest.fixture
def store(endpoints: Endpoints) -> Iterator[RedisOnlineStore]:
    client = redis.Redis.from_url(endpoints.redis, single_connection_client=True)
    yield RedisOnlineStore(client)
    client.close()


def _online_rows(view: ViewDefinition, now: dt.datetime) -> pa.Table:
    at = [now - dt.timedelta(days=3) if u < WEEK_OLD else now for u in range(USERS)]
    return pa.table(
        {
            "user_id": pa.array(range(USERS), pa.int64()),
            "event_timestamp": pa.array(at, pa.timestamp("us", tz="UTC")),
            "clicks_7d": [float(u % 17) for u in range(USERS)],
            "sessions_7d": pa.array([u % 5 for u in range(USERS)], pa.int64()),
            "tenure_days": pa.array([100 + u for u in range(USERS)], pa.int64()),
            "country": ["DE" if u % 2 else "FR" for u in range(USERS)],
        }
    )


async def test_served_entities_whose_rows_stopped_being_written_are_stale_on_redis(
    tmp_path: Path, recorded_events: list[Event], store: RedisOnlineStore
) -> None:
    spec = FeatureViewSpec.model_validate(example("01-featureview.yaml")["spec"])
    view = view_definition("user-activity-v1", spec, str(tmp_path), namespace="ml")
    write_source(tmp_path)
    log_predictions(tmp_path, skewed=0)
    store.write(view, _online_rows(view, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)))
    try:
        outcome = await monitor(tmp_path, recorded_events, store).call(
            body(MODEL_MONITOR, SPEC), indices=indices(*TRAINED_ON)
        )
    finally:
        store.delete_view(view)

    stale = outcome.condition("FeaturesStale")
    assert (stale["status"], stale["reason"]) == ("True", "FeaturesStale")
    # Three days is past clicks_7d's 10m SLO (the store's STALE), within the view's 7d ttl.
    assert stale["message"].startswith(
        f"{WEEK_OLD} of {USERS} served entities have stale features ({WEEK_OLD} past a ttl,"
        " freshness SLO or maxAge; 0 with none online): 10.00% > 5.00%"
    )
    assert "the oldest row online is 3d old" in stale["message"]
    assert outcome.condition("FeaturesSkewed")["reason"] == "NoSkew"
