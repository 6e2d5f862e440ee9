"""What used to fail only in the operator's log now says so on the resource: a condition with
its reason and the error's message, and a Warning event (issue #14, "nothing fails silently")."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("paved_operator")


def _feature_view(name: str, path: str) -> str:
    spec = {
        "entity": {"name": "user", "joinKeys": ["user_id"]},
        "source": {"path": path, "timestampField": "event_timestamp"},
        "features": [{"name": "clicks_7d", "dtype": "float64"}],
    }
    metadata = {"name": name}
    return yaml.safe_dump(
        {
            "apiVersion": "paved.dev/v1alpha1",
            "kind": "FeatureView",
            "metadata": metadata,
            "spec": spec,
        }
    )


def _warning(kubectl: Kubectl, name: str, namespace: str, reason: str) -> dict[str, Any]:
    def posted() -> dict[str, Any] | None:
        events = kubectl.events_about(name, namespace)
        return next((e for e in events if e["reason"] == reason), None)

    event = wait_for(posted, timeout=30, what=f"a {reason} event about {name}")
    assert event["type"] == "Warning"
    return event


def _csv(folder: Path) -> None:
    (folder / "events.parquet").write_text("user_id,clicks\n1,2\n")


def _directory(folder: Path) -> None:
    (folder / "events.parquet").mkdir()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (_csv, "cannot be read as Parquet"),
        (_directory, "is a directory, not a Parquet file; name its files"),
    ],
    ids=["not-parquet", "a-directory"],
)
def test_an_unreadable_source_is_reported_on_the_feature_view(
    kubectl: Kubectl, namespace: str, paved_operator: RunningOperator, make: Any, expected: str
) -> None:
    folder = paved_operator.data_root / namespace  # the namespace's data root
    folder.mkdir()
    make(folder)
    kubectl.apply(_feature_view("clicks", "events.parquet"), "-n", namespace)

    resource = wait_for_condition(
        kubectl,
        "featureview.paved.dev",
        "clicks",
        namespace,
        "Ready",
        "False",
        timeout=60,
        reason="SourceUnreadable",
    )
    ready = condition(resource, "Ready")
    assert ready is not None
    assert f"{namespace}/events.parquet" in ready["message"]  # the real path, under the root
    assert expected in ready["message"]
    event = _warning(kubectl, "clicks", namespace, "SourceUnreadable")
    assert expected in event["message"]


def test_an_unknown_pipeline_is_reported_on_the_model_version(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl.run("apply", "-n", namespace, "-f", str(ROOT / "examples" / "01-featureview.yaml"))
    model_version = yaml.safe_load((ROOT / "examples" / "02-modelversion.yaml").read_text())
    model_version["spec"]["pipeline"]["name"] = "xgboost-ranker"
    kubectl.apply(yaml.safe_dump(model_version), "-n", namespace)

    resource = wait_for_condition(
        kubectl,
        "modelversion.paved.dev",
        "churn-v1",
        namespace,
        "Trained",
        "False",
        timeout=60,
        reason="UnknownPipeline",
    )
    trained = condition(resource, "Trained")
    assert trained is not None
    assert "unknown pipeline 'xgboost-ranker' in spec.pipeline.name" in trained["message"]
    assert "known pipelines: tabular-classifier" in trained["message"]
    _warning(kubectl, "churn-v1", namespace, "UnknownPipeline")
