"""The demo's drifted world: every user's new snapshot, clicks about three times as high (the
inputs drift), and churn that follows support tickets instead of engagement (the model's AUC,
which learnt engagement, drops)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
from sklearn.metrics import roc_auc_score

from paved_local.demo import data

NOW = dt.datetime(2026, 12, 5, 12, tzinfo=dt.UTC)


def test_the_drifted_world_moves_the_inputs_and_what_churn_follows(tmp_path: Path) -> None:
    world = data.generate(tmp_path, NOW - dt.timedelta(hours=1), users=400)
    before = pq.read_table(tmp_path / "activity" / "part-0.parquet").to_pandas()

    drifted = data.drift(tmp_path, NOW, world.users)

    after = pq.read_table(tmp_path / drifted.activity).to_pandas().set_index("user_id")
    assert len(after) == len(drifted.labels) == 400
    assert (after["event_timestamp"] == drifted.latest_event).all()
    assert drifted.latest_event > world.latest_event
    assert after["clicks_7d"].mean() > 3 * before["clicks_7d"].mean()
    churned = [drifted.labels[u] for u in after.index]
    assert roc_auc_score(churned, after["support_tickets_30d"]) > 0.75
    # What v1 learnt (the engaged stay) no longer ranks who leaves.
    assert abs(roc_auc_score(churned, -after["clicks_7d"]) - 0.5) < 0.1
