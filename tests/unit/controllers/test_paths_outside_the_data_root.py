"""A resource whose data path leaves its namespace's data root is not accepted, and nothing is
read or started for it. (The API server refuses these paths first; an object admitted before
that rule, or under an older CRD, meets the operator's own check.)"""

from __future__ import annotations

from typing import Any, cast

from paved.api.feature_view import FeatureViewSpec, FeatureViewStatus
from paved.controllers import feature_view
from paved.controllers._kopf import Resource
from paved.ports import Ports
from tests.support.model_versions import NOW, SPEC, Cluster, World
from tests.support.training import example


class Untouchable:
    """An offline or online store that fails the test when anything reaches it."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"{name} was called for a source outside the data root")


async def test_a_model_version_with_absolute_labels_starts_no_run() -> None:
    labels = SPEC.labels.model_copy(update={"path": "/etc/other-team/labels.parquet"})
    world = World(cast(Any, None), SPEC.model_copy(update={"labels": labels}))
    await world.tick()
    status, reason, message = world.condition("Accepted")
    assert (status, reason) == ("False", "PathOutsideDataRoot")
    assert message.startswith("spec.labels.path '/etc/other-team/labels.parquet' is absolute")
    assert world.runner.starts == []


async def test_a_feature_view_whose_source_climbs_out_is_not_ready_and_reads_nothing() -> None:
    raw = example("01-featureview.yaml")["spec"]
    raw["source"]["path"] = "../team-b/activity/*.parquet"
    spec = FeatureViewSpec.model_validate(raw)
    nothing = cast(Any, None)
    ports = Ports(
        cluster=cast(Any, Cluster()),
        offline=cast(Any, Untouchable()),
        online=cast(Any, Untouchable()),
        runner=nothing,
        registry=nothing,
        routers=nothing,
        metrics=nothing,
        data_root="/data",
        code_commit="c0ffee",
    )
    resource = Resource(
        "leak",
        spec,
        FeatureViewStatus(),
        kind="FeatureView",
        namespace="team-a",
        uid="uid-1",
        generation=1,
    )
    result = await feature_view.keep_features_fresh(resource, ports, NOW)
    observed = {o.type: o for o in result.observed}
    assert (observed["Ready"].status, observed["Ready"].reason) == ("False", "PathOutsideDataRoot")
    assert "spec.source.path '../team-b/activity/*.parquet' climbs out" in observed["Ready"].message
    assert observed["Accepted"].reason == "PathOutsideDataRoot"
    assert "watermark" not in result.status_updates
