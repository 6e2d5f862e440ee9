from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from paved.api.feature_view import FeatureViewSpec
from paved.core.feature_views import (
    ONLINE_KEYS_REMOVED,
    deletion_retry_seconds,
    keys_kept,
    keys_removed,
    view_definition,
    view_version,
)
from paved.errors import PathOutsideDataRootError

ROOT = Path(__file__).resolve().parents[3]


def _spec(**changes: Any) -> FeatureViewSpec:
    raw = yaml.safe_load((ROOT / "examples" / "01-featureview.yaml").read_text())["spec"]
    return FeatureViewSpec.model_validate(raw | changes)


def test_the_same_definition_has_the_same_version() -> None:
    assert view_version(_spec()) == view_version(_spec())
    assert len(view_version(_spec())) == 12


def test_any_change_to_the_data_definition_is_a_new_version() -> None:
    base = view_version(_spec())
    assert view_version(_spec(ttl="30d")) != base
    assert view_version(_spec(entity={"name": "user", "joinKeys": ["user_id", "region"]})) != base
    features = _spec().model_dump(by_alias=True)["features"][:2]
    assert view_version(_spec(features=features)) != base


def test_operating_knobs_do_not_change_the_version() -> None:
    base = view_version(_spec())
    assert view_version(_spec(materialization={"interval": "5m"})) == base
    assert view_version(_spec(online={"stalePolicy": "null"})) == base


def test_sources_resolve_under_the_namespace_data_root_and_ttl_zero_means_no_limit() -> None:
    view = view_definition("user-activity-v1", _spec(ttl="0s"), "/srv/data", namespace="team-a")
    assert view.source == "/srv/data/team-a/data/user_activity/*.parquet"
    assert view.data_root == "/srv/data/team-a"
    assert view.ttl is None
    assert view.feature("clicks_7d").freshness == dt.timedelta(minutes=10)
    assert view_definition("v", _spec(), "/srv", namespace="team-a").ttl == dt.timedelta(days=7)


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        ("/etc/passwd", "is absolute"),
        ("../team-b/activity/*.parquet", "climbs out with '..'"),
        ("activity/../../team-b/x.parquet", "climbs out with '..'"),
    ],
)
def test_a_source_outside_the_namespace_data_root_has_no_view(path: str, refusal: str) -> None:
    source = {"path": path, "timestampField": "event_timestamp"}
    with pytest.raises(PathOutsideDataRootError, match=f"spec.source.path '.*' {refusal}"):
        view_definition("v", _spec(source=source), "/srv/data", namespace="team-a")


def test_a_view_belongs_to_its_namespace() -> None:
    ours = view_definition("user-activity-v1", _spec(), "/srv", namespace="team-a")
    theirs = view_definition("user-activity-v1", _spec(), "/srv", namespace="team-b")
    # One definition is one version, wherever it is; the views are still two.
    assert (ours.namespace, theirs.namespace) == ("team-a", "team-b")
    assert ours.version == theirs.version
    assert ours != theirs


def test_a_deletion_the_online_store_refused_backs_off_to_five_minutes_and_says_why() -> None:
    assert [deletion_retry_seconds(n) for n in range(8)] == [5, 10, 20, 40, 80, 160, 300, 300]
    assert deletion_retry_seconds(10**6) == 300
    kept = keys_kept("Redis at 127.0.0.1:6379/0 did not answer delete_all_versions", 20)
    assert (kept.type, kept.status, kept.reason) == (
        ONLINE_KEYS_REMOVED,
        "False",
        "OnlineStoreUnavailable",
    )
    assert "did not answer" in kept.message
    assert "next attempt in 20 s" in kept.message
    assert keys_removed(600).status == "True"
    assert "600 online values" in keys_removed(600).message
