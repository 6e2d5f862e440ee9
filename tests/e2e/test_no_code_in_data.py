"""No code in data (issue 14): a slice filter that tries to read a file is refused before any
run starts, and a FeatureView cannot reach data outside its namespace's data root, whether by an
absolute path, by '..' or through a link."""

from __future__ import annotations

import copy
from typing import Any

import redis
import yaml
from mlflow.tracking import MlflowClient

from paved_local.platform import Endpoints
from tests.support.churn_data import write_churn_data
from tests.support.conditions import condition, wait_for_condition
from tests.support.fixtures import RunningOperator
from tests.support.kubectl import Kubectl
from tests.support.training import example
from tests.support.waiting import wait_for

MV = "modelversion.paved.dev"
FV = "featureview.paved.dev"


def _feature_view(name: str, path: str) -> dict[str, Any]:
    view = example("01-featureview.yaml")
    view["metadata"]["name"] = name
    view["spec"]["source"]["path"] = path
    return view


def test_a_slice_filter_that_reads_a_file_is_refused_and_nothing_is_read_or_written(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    data = paved_operator.data_root / namespace
    write_churn_data(data)
    secret = paved_operator.data_root.parent / f"secret-{namespace}.csv"
    secret.write_text("password\nhunter2\n")
    leak = data / "leak.csv"
    view = _feature_view("user-activity-v1", "activity/*.parquet")
    view["spec"]["materialization"]["enabled"] = False
    manifest = copy.deepcopy(example("02-modelversion.yaml"))
    manifest["metadata"]["name"] = "churn-leak"
    model = f"churn-{namespace}"
    manifest["spec"]["model"] = model
    manifest["spec"]["labels"]["path"] = "churn_labels.parquet"
    manifest["spec"]["gates"]["slices"] = [
        {"name": "new_users", "where": "tenure_days < 200"},
        # The filter issue 14 tried: it closes the statement, reads a file outside the data
        # root and writes it out; the model then staged with every gate passing.
        {
            "name": "leak",
            "where": f"true), false) FROM validation; COPY (SELECT * FROM "
            f"read_csv('{secret}')) TO '{leak}'; SELECT coalesce((true",
        },
        {"name": "peek", "where": f"read_csv('{secret}') IS NOT NULL"},
    ]
    kubectl.apply(yaml.safe_dump_all([view, manifest]), "-n", namespace)

    refused = wait_for_condition(
        kubectl, MV, "churn-leak", namespace, "Accepted", "False", reason="InvalidSpec", timeout=60
    )
    accepted = condition(refused, "Accepted")
    assert accepted is not None
    message = accepted["message"]
    assert "slice leak: where: a second statement (';') is not allowed" in message
    assert "slice peek: where: function calls are not allowed: read_csv(...)" in message
    events = wait_for(
        lambda: [
            e for e in kubectl.events_about("churn-leak", namespace) if e["reason"] == "InvalidSpec"
        ],
        timeout=30,
        what="an InvalidSpec event",
    )
    assert events[0]["type"] == "Warning"
    assert "slice leak" in str(events[0]["message"])

    # Nothing ran, so nothing read the secret or wrote it out, and nothing was registered.
    status = refused["status"]
    assert "run" not in status
    assert status.get("phase") not in ("Staging", "Production")
    assert not leak.exists()
    runs = paved_operator.state_dir / "runs"
    uid = refused["metadata"]["uid"]
    started = (
        [r for r in runs.iterdir() if (r / "key").read_text().startswith(uid)]
        if runs.exists()
        else []
    )
    assert started == []
    assert MlflowClient(endpoints.mlflow).search_model_versions(f"name = '{model}'") == []


def test_a_feature_view_source_outside_the_namespace_data_root_reads_nothing_and_says_where(
    paved_operator: RunningOperator, kubectl: Kubectl, namespace: str, endpoints: Endpoints
) -> None:
    # Another team's namespace folder, and a directory outside the data root altogether.
    other = paved_operator.data_root / f"{namespace}-other"
    write_churn_data(other)
    secret = paved_operator.data_root.parent / f"secret-{namespace}"
    write_churn_data(secret)

    # As written, an absolute path and '..' are refused by the API server itself.
    for path, refusal in [
        (str(other / "activity" / "*.parquet"), "must be relative to the namespace's data root"),
        (f"../{namespace}-other/activity/*.parquet", "must not climb out of the namespace's"),
    ]:
        applied = kubectl.apply(
            yaml.safe_dump(_feature_view("escape", path)), "-n", namespace, check=False
        )
        assert applied.returncode != 0, f"{path} was admitted"
        assert "spec.source.path" in applied.stderr
        assert refusal in applied.stderr

    # A link is seen only on disk: a file linked to another team's, a directory linked out.
    mine = paved_operator.data_root / namespace
    (mine / "activity").mkdir(parents=True)
    (mine / "activity" / "part-0.parquet").symlink_to(other / "activity" / "part-0.parquet")
    (mine / "mounted").symlink_to(secret / "activity")
    cases = {"linked-file": "activity/*.parquet", "linked-dir": "mounted/*.parquet"}
    kubectl.apply(
        yaml.safe_dump_all([_feature_view(name, path) for name, path in cases.items()]),
        "-n",
        namespace,
    )

    online = redis.Redis.from_url(endpoints.redis)
    for name, path in cases.items():
        refused = wait_for_condition(
            kubectl,
            FV,
            name,
            namespace,
            "Ready",
            "False",
            reason="PathOutsideDataRoot",
            timeout=60,
        )
        ready = condition(refused, "Ready")
        assert ready is not None
        matched = mine / path.split("/")[0]
        assert f"spec.source.path '{mine / path}' matches {matched}/" in ready["message"]
        assert f"outside the namespace's data root {mine}/" in ready["message"]
        assert "watermark" not in refused["status"]
        assert "lastMaterialization" not in refused["status"]
        assert list(online.scan_iter(match=f"*:{name}:*")) == []
