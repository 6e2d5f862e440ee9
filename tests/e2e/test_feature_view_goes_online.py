"""A FeatureView applied to the cluster is materialized by the operator into the local Redis,
read back online, and its Fresh condition follows the source: stale when it stops updating,
fresh again when new rows land; with Redis down it says so, claims nothing, and picks up from
its watermark once Redis is back."""

from __future__ import annotations

import datetime as dt
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from paved.adapters.online.redis import RedisOnlineStore
from paved.api.feature_view import FeatureViewSpec
from paved.core.feature_views import view_definition
from paved.ports.online import OnlineRequest, ValueStatus
from paved_local.platform import REDIS, Endpoints, LocalPlatform
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.outages import outage
from tests.support.waiting import wait_for

FRESHNESS_SECONDS = 12
FV, VIEW = "featureview.paved.dev", "user-activity-v1"


def _write_activity(operator: RunningOperator, namespace: str, at: dt.datetime, users: int) -> None:
    """One Parquet file of activity for `users` users, all stamped `at`, in the namespace's
    activity folder."""
    directory = operator.data_root / namespace / "activity"
    directory.mkdir(parents=True, exist_ok=True)
    stamp = pa.array([at] * users, pa.timestamp("us", tz="UTC"))
    table = pa.table(
        {
            "user_id": pa.array(range(users), pa.int64()),
            "event_timestamp": stamp,
            "created_at": stamp,
            "clicks_7d": pa.array([float(i) for i in range(users)], pa.float64()),
            "country": pa.array(["DE" if i % 2 else "FR" for i in range(users)], pa.string()),
        }
    )
    pq.write_table(table, directory / f"part-{uuid.uuid4().hex}.parquet")


def _feature_view(folder: str) -> dict[str, object]:
    return {
        "apiVersion": "paved.dev/v1alpha1",
        "kind": "FeatureView",
        "metadata": {"name": "user-activity-v1"},
        "spec": {
            "entity": {"name": "user", "joinKeys": ["user_id"]},
            "source": {
                "path": f"{folder}/*.parquet",
                "timestampField": "event_timestamp",
                "createdTimestampField": "created_at",
            },
            "ttl": "1d",
            "features": [
                {"name": "clicks_7d", "dtype": "float64", "freshness": f"{FRESHNESS_SECONDS}s"},
                {"name": "country", "dtype": "string"},
            ],
            "materialization": {"interval": "1s"},
        },
    }


def test_feature_view_is_materialized_read_online_and_tracks_freshness(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    _write_activity(paved_operator, namespace, dt.datetime.now(dt.UTC), users=50)
    manifest = _feature_view("activity")
    kubectl.apply(yaml.safe_dump(manifest), "-n", namespace)

    ready = wait_for_condition(kubectl, FV, VIEW, namespace, "Ready", "True", timeout=60)
    assert ready["status"]["version"]
    fresh = wait_for_condition(kubectl, FV, VIEW, namespace, "Fresh", "True")
    assert fresh["status"]["freshnessSummary"] == "fresh"

    spec = FeatureViewSpec.model_validate(manifest["spec"])
    view = view_definition(
        "user-activity-v1", spec, str(paved_operator.data_root), namespace=namespace
    )
    assert view.version == ready["status"]["version"]
    store = RedisOnlineStore.from_url(endpoints.redis)
    seven = store.read(
        [{"user_id": 7}], [OnlineRequest(view, ("clicks_7d", "country"))], dt.datetime.now(dt.UTC)
    )
    assert seven.columns == ("user-activity-v1__clicks_7d", "user-activity-v1__country")
    assert seven.values == [[7.0, "DE"]]
    assert seven.statuses == [[ValueStatus.PRESENT, ValueStatus.PRESENT]]

    # The source stops updating: the freshness SLO is breached and said so.
    stale = wait_for_condition(
        kubectl, FV, VIEW, namespace, "Fresh", "False", timeout=FRESHNESS_SECONDS + 30
    )
    breach = condition(stale, "Fresh")
    assert breach is not None
    assert breach["reason"] == "SloBreached"
    assert "clicks_7d" in breach["message"]
    assert stale["status"]["freshnessSummary"] == "1/2 stale"

    def breach_event() -> dict[str, object] | None:
        events = kubectl.events_about("user-activity-v1", namespace)
        return next((e for e in events if e["reason"] == "SloBreached"), None)

    event = wait_for(breach_event, timeout=30, what="a SloBreached event")
    assert event["type"] == "Warning"
    assert "clicks_7d" in str(event["message"])

    # New rows land: materialized on the next run, fresh again.
    _write_activity(paved_operator, namespace, dt.datetime.now(dt.UTC), users=60)
    wait_for_condition(kubectl, FV, VIEW, namespace, "Fresh", "True", timeout=30)
    newcomer = store.read(
        [{"user_id": 55}], [OnlineRequest(view, ("clicks_7d",))], dt.datetime.now(dt.UTC)
    )
    assert newcomer.row(0)["user-activity-v1__clicks_7d"].value == 55.0


def test_with_redis_down_nothing_is_claimed_and_materialization_resumes_from_the_watermark(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    namespace: str,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> None:
    _write_activity(paved_operator, namespace, dt.datetime.now(dt.UTC), users=50)
    kubectl.apply(yaml.safe_dump(_feature_view("activity")), "-n", namespace)
    online = wait_for_condition(kubectl, FV, VIEW, namespace, "Ready", "True", timeout=60)
    watermark = online["status"]["watermark"]

    def metric(name: str, **labels: str) -> float:
        return paved_operator.metric(name, namespace=namespace, **labels)

    runs = metric("paved_materialization_duration_seconds_count")
    written = metric("paved_materialized_rows_total")

    with outage(local_platform, REDIS) as redis_down:
        redis_down.begin()
        _write_activity(paved_operator, namespace, dt.datetime.now(dt.UTC), users=60)
        down = wait_for_condition(kubectl, FV, VIEW, namespace, "Ready", "False", timeout=60)
        ready = condition(down, "Ready")
        assert ready is not None
        assert ready["reason"] == "OnlineStoreUnavailable"
        redis_address = endpoints.redis.removeprefix("redis://")
        assert ready["message"].startswith(f"Redis at {redis_address} did not answer write")

        # Run after failed run, nothing half-written is reported as done.
        failed = "paved_materialization_failures_total"
        failures = metric(failed, reason="OnlineStoreUnavailable")
        wait_for(
            lambda: metric(failed, reason="OnlineStoreUnavailable") >= failures + 2,
            timeout=60,
            what="two more failed materialization runs",
        )
        still_down = kubectl.get_json(FV, VIEW, "-n", namespace)
        still = condition(still_down, "Ready")
        assert still is not None
        fields = ("status", "reason", "lastTransitionTime")
        assert [still[f] for f in fields] == [ready[f] for f in fields]
        assert still_down["status"]["watermark"] == watermark
        assert still_down["status"]["lastMaterialization"] == down["status"]["lastMaterialization"]
        redis_down.end()

        wait_for_condition(kubectl, FV, VIEW, namespace, "Ready", "True", timeout=60)

    # The run that came back read only what the watermark had not passed: the 60 new rows, not
    # all 110 again. Its message is in the event the Ready condition's flip posted.
    def recovered() -> dict[str, object] | None:
        events = kubectl.events_about("user-activity-v1", namespace)
        materialized = [e for e in events if "changed rows written" in e["message"]]
        return next((e for e in materialized if "50 of 50" not in e["message"]), None)

    event = wait_for(recovered, timeout=30, what="the Materialized event after the outage")
    assert "; 60 of 60 changed rows written;" in str(event["message"])
    assert metric("paved_materialized_rows_total") - written == 60
    assert metric("paved_materialization_duration_seconds_count") > runs
    back = kubectl.get_json(FV, VIEW, "-n", namespace)
    assert back["status"]["watermark"] > watermark
    spec = FeatureViewSpec.model_validate(_feature_view("activity")["spec"])
    view = view_definition(
        "user-activity-v1", spec, str(paved_operator.data_root), namespace=namespace
    )
    newcomer = RedisOnlineStore.from_url(endpoints.redis).read(
        [{"user_id": 55}], [OnlineRequest(view, ("clicks_7d",))], dt.datetime.now(dt.UTC)
    )
    assert newcomer.row(0)["user-activity-v1__clicks_7d"].value == 55.0


def test_a_source_that_matches_nothing_is_not_ready_and_says_where_it_looked(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str
) -> None:
    manifest = _feature_view("nowhere")
    kubectl.apply(yaml.safe_dump(manifest), "-n", namespace)
    broken = wait_for_condition(kubectl, FV, VIEW, namespace, "Ready", "False", timeout=60)
    ready = condition(broken, "Ready")
    assert ready is not None
    assert ready["reason"] == "SourceDataError"
    assert f"{namespace}/nowhere/*.parquet" in ready["message"]
    assert "watermark" not in broken["status"]  # nothing half-written is reported as done
