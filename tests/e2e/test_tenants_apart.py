"""Two namespaces use the same names, a FeatureView user-activity-v1 and a model churn, with
different data: each reads its own online values, each ModelVersion is registered under its own
namespace's name with its own lineage, and deleting one namespace's FeatureView removes its
online values and nothing of the other's. A FeatureView deleted while Redis is down stays, says
why, and goes once its values are removed."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import redis
import yaml
from mlflow.tracking import MlflowClient

from paved.adapters.registry.mlflow import KEY_TAG
from paved.features import FeatureStore
from paved.settings import OperatorSettings
from paved_local.platform import REDIS, Endpoints, LocalPlatform
from tests.support.churn_data import write_churn_data
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.outages import outage
from tests.support.training import example
from tests.support.waiting import wait_for

FV = "featureview.paved.dev"
MV = "modelversion.paved.dev"
VIEW = "user-activity-v1"
MODEL_VERSION = "churn-v1"
FEATURES = ("clicks_7d", "country")
USERS = 600  # write_churn_data's default


@dataclass(frozen=True)
class TenantData:
    """Where a namespace's test data is written, and how its manifests name it."""

    directory: Path
    prefix: str  # what a manifest's path starts with to reach `directory`

    def path(self, relative: str) -> str:
        return f"{self.prefix}{relative}"


def tenant_data(operator: RunningOperator, namespace: str) -> TenantData:
    """The one place that knows the data layout: each namespace reads under its own data root,
    `<data root>/<namespace>/`, and its manifests name paths relative to it. So both tenants'
    manifests are the same, and so are their FeatureView versions: only the namespace keeps
    their online values apart."""
    return TenantData(operator.data_root / namespace, "")


def _manifests(data: TenantData) -> str:
    view = copy.deepcopy(example("01-featureview.yaml"))
    view["spec"]["source"]["path"] = data.path("activity/*.parquet")
    view["spec"]["ttl"] = "0s"  # no limit: the churn data is from October 2026
    model_version = copy.deepcopy(example("02-modelversion.yaml"))
    spec = model_version["spec"]
    spec["labels"]["path"] = data.path("churn_labels.parquet")
    spec["gates"]["metric"]["minValue"] = 0.6
    return yaml.safe_dump_all([view, model_version])


def _latest_values(data: TenantData) -> list[list[Any]]:
    """Each user's newest `FEATURES` in the namespace's own source, by user id."""
    activity = pq.read_table(data.directory / "activity").to_pandas()
    latest = activity.sort_values("event_timestamp").groupby("user_id").tail(1)
    return latest.sort_values("user_id")[list(FEATURES)].values.tolist()


def _online_keys(client: redis.Redis, namespace: str) -> list[bytes]:
    return list(client.scan_iter(match=f"pv:{namespace}:{VIEW}:*", count=1000))


def _gone(kubectl: Kubectl, namespace: str) -> bool:
    return kubectl.run("get", FV, VIEW, "-n", namespace, check=False).returncode != 0


def _event(kubectl: Kubectl, namespace: str, reason: str) -> dict[str, Any] | None:
    return next((e for e in kubectl.events_about(VIEW, namespace) if e["reason"] == reason), None)


def test_two_namespaces_with_the_same_names_neither_see_nor_overwrite_each_other(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    other = f"t-{uuid.uuid4().hex[:10]}"
    kubectl.run("create", "namespace", other)
    seeds = {namespace: 3, other: 11}  # the same names, different data
    for tenant, seed in seeds.items():
        data = tenant_data(paved_operator, tenant)
        write_churn_data(data.directory, seed=seed)
        kubectl.apply(_manifests(data), "-n", tenant)

    # Both materialize; each namespace's store reads its own namespace's values.
    settings = OperatorSettings(
        kubeconfig=str(endpoints.kubeconfig),
        redis_url=endpoints.redis,
        data_root=str(paved_operator.data_root),
    )
    users = [{"user_id": user} for user in range(USERS)]
    online = {}
    for tenant in seeds:
        wait_for_condition(kubectl, FV, VIEW, tenant, "Ready", "True", timeout=120)
        store = FeatureStore.from_cluster(tenant, settings)
        refs = [f"{VIEW}:{feature}" for feature in FEATURES]
        online[tenant] = store.get_online_features(users, refs, dt.datetime.now(dt.UTC)).values
        assert online[tenant] == _latest_values(tenant_data(paved_operator, tenant)), tenant
    assert online[namespace] != online[other]
    # One definition, so one version in both: the keys differ by the namespace alone.
    versions = {kubectl.get_json(FV, VIEW, "-n", t)["status"]["version"] for t in seeds}
    assert len(versions) == 1

    # Both train; each version is its namespace's churn, with its own run and lineage.
    client = MlflowClient(endpoints.mlflow)
    lineage = {}
    for tenant in seeds:
        trained = wait_for_condition(
            kubectl, MV, MODEL_VERSION, tenant, "Trained", "True", timeout=420
        )
        status = trained["status"]
        entry, key = status["registry"], status["run"]["key"]
        assert entry["name"] == f"{tenant}.churn"
        (version,) = client.search_model_versions(f"name = '{tenant}.churn'")
        # Where the version's files are: a storage URI, as serving specs hold it.
        assert entry["uri"] == client.get_model_version_download_uri(
            f"{tenant}.churn", entry["version"]
        )
        assert entry["uri"].startswith("s3://paved/mlflow/")
        assert str(version.version) == entry["version"]
        assert version.tags["paved.model_version"] == f"{tenant}/{MODEL_VERSION}"
        assert version.tags[KEY_TAG] == key
        assert key.startswith(f"{tenant}.{trained['metadata']['uid']}-")
        run = client.get_run(version.run_id)
        assert client.get_experiment(run.info.experiment_id).name == f"{tenant}.churn"
        assert run.info.run_name.startswith(f"{tenant}.{MODEL_VERSION}-")
        assert run.data.tags["paved.namespace"] == tenant
        lineage[tenant] = status["lineage"]["datasetHash"]
    assert lineage[namespace] != lineage[other]  # each trained on its own data

    # Deleting one namespace's FeatureView removes its values, and only its.
    client_redis = redis.Redis.from_url(endpoints.redis)
    assert len(_online_keys(client_redis, namespace)) == len(_online_keys(client_redis, other))
    assert len(_online_keys(client_redis, other)) == USERS
    kubectl.run("delete", FV, VIEW, "-n", namespace, "--wait=false")
    wait_for(lambda: _gone(kubectl, namespace), 60, f"{namespace}/{VIEW} to be gone")
    assert _online_keys(client_redis, namespace) == []
    assert len(_online_keys(client_redis, other)) == USERS
    removed = wait_for(lambda: _event(kubectl, namespace, "OnlineKeysRemoved"), 30, "the event")
    assert f"{USERS} online values" in removed["message"]
    store = FeatureStore.from_cluster(other, settings)
    still = store.get_online_features(
        users, [f"{VIEW}:{f}" for f in FEATURES], dt.datetime.now(dt.UTC)
    )
    assert still.values == online[other]


def test_a_feature_view_deleted_while_redis_is_down_stays_until_its_values_are_removed(
    paved_operator: RunningOperator,
    kubectl: Kubectl,
    namespace: str,
    endpoints: Endpoints,
    local_platform: LocalPlatform,
) -> None:
    data = tenant_data(paved_operator, namespace)
    write_churn_data(data.directory, users=50, days=3)
    view = next(yaml.safe_load_all(_manifests(data)))
    kubectl.apply(yaml.safe_dump(view), "-n", namespace)
    wait_for_condition(kubectl, FV, VIEW, namespace, "Ready", "True", timeout=120)
    client = redis.Redis.from_url(endpoints.redis)
    assert len(_online_keys(client, namespace)) == 50

    with outage(local_platform, REDIS) as redis_down:
        redis_down.begin()
        kubectl.run("delete", FV, VIEW, "-n", namespace, "--wait=false")
        kept = wait_for_condition(
            kubectl,
            FV,
            VIEW,
            namespace,
            "OnlineKeysRemoved",
            "False",
            timeout=60,
            reason="OnlineStoreUnavailable",
        )
        message = (condition(kept, "OnlineKeysRemoved") or {})["message"]
        assert "did not answer delete_all_versions" in message
        assert "next attempt in" in message
        assert kept["metadata"]["deletionTimestamp"]
        warning = wait_for(
            lambda: _event(kubectl, namespace, "OnlineStoreUnavailable"),
            30,
            "a warning about the kept values",
        )
        assert warning["type"] == "Warning"
        redis_down.end()

    # Back, the next attempt removes the values Redis kept through its restart, then the view.
    wait_for(lambda: _gone(kubectl, namespace), 120, f"{namespace}/{VIEW} to be gone")
    assert _online_keys(client, namespace) == []
    removed = wait_for(lambda: _event(kubectl, namespace, "OnlineKeysRemoved"), 30, "the event")
    assert "50 online values" in removed["message"]
