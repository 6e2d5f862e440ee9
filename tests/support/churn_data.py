"""A small synthetic churn data set: user activity (with late and backfilled rows) and labels.

Churn depends on activity, so a model can learn it; `regress_slice` makes the labels of new users
noise in the training period, so a model trained on them does worse on the new users of the
holdout (true labels) than one trained on the truth — what the slice gate must catch.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from paved_local.dataplane.load import Example

START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
UTC = pa.timestamp("us", tz="UTC")
TRAINING_DAYS = 14  # labels before this day are in the training part of a 25% time split


def write_churn_data(
    root: Path,
    users: int = 600,
    days: int = 20,
    seed: int = 3,
    regress_slice: bool = False,
    labels_file: str = "churn_labels.parquet",
) -> None:
    rng = np.random.default_rng(seed)
    activity = root / "activity"
    activity.mkdir(parents=True, exist_ok=True)
    engagement = rng.gamma(2.0, 10.0, users)
    tenure = rng.integers(1, 900, users)
    countries = np.array(["DE", "FR", "IT", "ES"])[rng.integers(0, 4, users)]
    user_ids, stamps, created, clicks, sessions, tenure_days, country = [], [], [], [], [], [], []
    for day in range(days):
        at = START + dt.timedelta(days=day)
        user_ids += list(range(users))
        stamps += [at] * users
        created += [at + dt.timedelta(minutes=5)] * users
        clicks += list(np.maximum(0, engagement + rng.normal(0, 3, users)))
        sessions += list(rng.poisson(engagement / 5 + 1))
        tenure_days += list(tenure + day)
        country += list(countries)
    table = pa.table(
        {
            "user_id": pa.array(user_ids, pa.int64()),
            "event_timestamp": pa.array(stamps, UTC),
            "created_at": pa.array(created, UTC),
            "clicks_7d": pa.array(clicks, pa.float64()),
            "sessions_7d": pa.array(sessions, pa.int64()),
            "tenure_days": pa.array(tenure_days, pa.int64()),
            "country": pa.array(country, pa.string()),
        }
    )
    pq.write_table(table, activity / "part-0.parquet")
    label_days = rng.integers(2, days, users * 2)
    label_users = np.concatenate([np.arange(users), np.arange(users)])
    probability = 1 / (1 + np.exp((engagement[label_users] - 18) / 4))
    churned = rng.random(users * 2) < probability
    if regress_slice:
        # Noise only where the model learns (before the time split's holdout): the holdout's
        # labels stay true, so both models are measured on the truth of the same rows.
        new = (tenure[label_users] < 200) & (label_days < TRAINING_DAYS)
        churned = np.where(new, rng.random(users * 2) < 0.5, churned)
    labels = pa.table(
        {
            "user_id": pa.array(label_users, pa.int64()),
            "ts": pa.array([START + dt.timedelta(days=int(d), hours=12) for d in label_days], UTC),
            "churned": pa.array(churned.astype(int), pa.int64()),
        }
    )
    pq.write_table(labels, root / labels_file)


def write_today(root: Path, now: dt.datetime) -> None:
    """Each user's latest activity again as of a few minutes before `now`: the features a
    model serves today, which a training run joins to labels of today point-in-time."""
    activity = pq.read_table(root / "activity" / "part-0.parquet")
    latest = activity.slice(activity.num_rows - len(set(activity["user_id"].to_pylist())))
    at = now - dt.timedelta(minutes=5)
    today = latest.set_column(
        latest.schema.get_field_index("event_timestamp"),
        "event_timestamp",
        pa.array([at] * latest.num_rows, UTC),
    ).set_column(
        latest.schema.get_field_index("created_at"),
        "created_at",
        pa.array([at] * latest.num_rows, UTC),
    )
    pq.write_table(today, root / "activity" / "part-1-today.parquet")


def serving_examples(root: Path) -> list[Example]:
    """Each user's latest activity as a request, with the user's latest churn label."""
    activity = pq.read_table(root / "activity").to_pandas()
    latest = activity.sort_values("event_timestamp").groupby("user_id").tail(1)
    labels = pq.read_table(root / "churn_labels.parquet").to_pandas()
    label = labels.sort_values("ts").groupby("user_id").tail(1).set_index("user_id")["churned"]
    features = ["clicks_7d", "sessions_7d", "tenure_days", "country"]
    return [
        Example(
            {name: row[name] for name in features},
            int(label[row["user_id"]]),
            {"user_id": int(row["user_id"])},
        )
        for row in latest.to_dict("records")
        if row["user_id"] in label.index
    ]


def write_task_labels(
    root: Path, users: int = 600, days: int = 20, seed: int = 3, *, noisy: bool = False
) -> None:
    """Labels of two other tasks over the same users and activity as `write_churn_data` (same
    seed, same engagement): `spend_labels.parquet`, a number each user spends in the next month
    (regression), and `tier_labels.parquet`, the user's tier 0, 1 or 2 (multiclass). `noisy`
    writes `spend_labels_noisy.parquet` instead, its spend noise where a model learns (before
    the time split's holdout): a regressor trained on it does worse on the same holdout."""
    engagement = np.random.default_rng(seed).gamma(
        2.0, 10.0, users
    )  # write_churn_data's first draw
    rng = np.random.default_rng(seed + 1)
    label_days = rng.integers(2, days, users * 2)
    label_users = np.concatenate([np.arange(users), np.arange(users)])
    stamps = pa.array([START + dt.timedelta(days=int(d), hours=12) for d in label_days], UTC)
    spend = 3.0 * engagement[label_users] + rng.normal(0, 5, users * 2)
    tier = np.digitize(engagement[label_users] + rng.normal(0, 3, users * 2), [12.0, 25.0])
    files = [
        ("spend_labels.parquet", {"spend": pa.array(spend, pa.float64())}),
        ("tier_labels.parquet", {"tier": pa.array(tier, pa.int64())}),
    ]
    if noisy:
        noise = np.where(label_days < TRAINING_DAYS, rng.uniform(0, 150, users * 2), spend)
        files = [("spend_labels_noisy.parquet", {"spend": pa.array(noise, pa.float64())})]
    for name, column in files:
        keys = {"user_id": pa.array(label_users, pa.int64()), "ts": stamps}
        pq.write_table(pa.table({**keys, **column}), root / name)
