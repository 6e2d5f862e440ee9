"""The demo's synthetic world: users, their activity, who churned, and cohorts to check for harm.

Realistic in the ways that break feature stores: activity arrives late (written minutes to hours
after the event), an old day is backfilled today (rows whose event time is long past but whose
created time is now: a point-in-time join must not let training see them), and labels come at
their own times. Churn depends on engagement, support tickets and plan, so a model with more of
those features does measurably better, and the difference shows in an A/B test.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

UTC: Final = pa.timestamp("us", tz="UTC")
COUNTRIES: Final = ("DE", "FR", "IT", "ES", "NL")
PLANS: Final = ("free", "plus", "pro")
AGE_BANDS: Final = ("18-24", "25-44", "45-64", "65+")
FEATURES: Final = (
    "clicks_7d",
    "sessions_7d",
    "support_tickets_30d",
    "tenure_days",
    "plan",
    "country",
)


@dataclass(frozen=True)
class World:
    """Where the data went, relative to the data root, and what it holds."""

    activity: str  # a Parquet glob, the FeatureView's source
    labels: str
    users: int
    activity_rows: int
    late_rows: int
    backfilled_rows: int
    label_rows: int
    latest_event: dt.datetime


def generate(
    root: Path, now: dt.datetime, users: int = 1500, days: int = 21, seed: int = 7
) -> World:
    """Write the activity and the labels under `root`; the last events are minutes old."""
    rng = np.random.default_rng(seed)
    engagement = rng.gamma(2.0, 10.0, users)
    plan = rng.choice(len(PLANS), users, p=[0.6, 0.3, 0.1])
    tickets_rate = rng.gamma(1.0, 1.0, users)
    tenure = rng.integers(1, 1200, users)
    country = rng.integers(0, len(COUNTRIES), users)

    start = now - dt.timedelta(days=days)
    columns: dict[str, list[object]] = {
        "user_id": [],
        "event_timestamp": [],
        "created_at": [],
        **{f: [] for f in FEATURES},
    }
    late = 0
    for day in range(days + 1):
        # Each user's daily snapshot lands at some time of that day; today's, minutes ago.
        if day < days:
            offset = rng.uniform(0, 86_400, users)
            stamps = [start + dt.timedelta(days=day, seconds=float(s)) for s in offset]
        else:
            ago = rng.uniform(120, 900, users)
            stamps = [now - dt.timedelta(seconds=float(s)) for s in ago]
        # Most rows are written within minutes; one in twenty arrives hours late.
        delays = rng.exponential(120, users)
        is_late = rng.random(users) < 0.05
        delays[is_late] += rng.uniform(3_600, 6 * 3_600, int(is_late.sum()))
        late += int(is_late.sum())
        created = [
            min(s + dt.timedelta(seconds=float(d)), now)
            for s, d in zip(stamps, delays, strict=True)
        ]
        columns["user_id"] += list(range(users))
        columns["event_timestamp"] += stamps
        columns["created_at"] += created
        columns["clicks_7d"] += list(np.maximum(0, engagement + rng.normal(0, 3, users)))
        columns["sessions_7d"] += list(rng.poisson(engagement / 5 + 1))
        columns["support_tickets_30d"] += list(rng.poisson(tickets_rate * 2))
        columns["tenure_days"] += list(tenure + day)
        columns["plan"] += [PLANS[p] for p in plan]
        columns["country"] += [COUNTRIES[c] for c in country]

    # A backfill run today rewrites day 3 with corrected clicks: event time old, created now.
    backfill_day = start + dt.timedelta(days=3, hours=12)
    backfilled = users // 5
    chosen = rng.choice(users, backfilled, replace=False)
    columns["user_id"] += list(chosen)
    columns["event_timestamp"] += [backfill_day] * backfilled
    columns["created_at"] += [now - dt.timedelta(minutes=30)] * backfilled
    columns["clicks_7d"] += list(engagement[chosen] * 1.1)
    columns["sessions_7d"] += list(rng.poisson(engagement[chosen] / 5 + 1))
    columns["support_tickets_30d"] += list(rng.poisson(tickets_rate[chosen] * 2))
    columns["tenure_days"] += list(tenure[chosen] + 3)
    columns["plan"] += [PLANS[p] for p in plan[chosen]]
    columns["country"] += [COUNTRIES[c] for c in country[chosen]]

    activity = pa.table(
        {
            "user_id": pa.array(columns["user_id"], pa.int64()),
            "event_timestamp": pa.array(columns["event_timestamp"], UTC),
            "created_at": pa.array(columns["created_at"], UTC),
            "clicks_7d": pa.array(columns["clicks_7d"], pa.float64()),
            "sessions_7d": pa.array(columns["sessions_7d"], pa.int64()),
            "support_tickets_30d": pa.array(columns["support_tickets_30d"], pa.int64()),
            "tenure_days": pa.array(columns["tenure_days"], pa.int64()),
            "plan": pa.array(columns["plan"], pa.string()),
            "country": pa.array(columns["country"], pa.string()),
        }
    )
    (root / "activity").mkdir(parents=True, exist_ok=True)
    pq.write_table(activity, root / "activity" / "part-0.parquet")

    # Two labels per user, observed at noon on random days after the first week.
    label_users = np.concatenate([np.arange(users), np.arange(users)])
    label_days = rng.integers(7, days, users * 2)
    # Engagement alone tells part of the story; tickets and the plan tell the rest, so a model
    # that sees them is better by a margin an A/B test can find in minutes.
    risk = (
        -(engagement[label_users] - 18) / 10
        + 1.5 * (tickets_rate[label_users] - 1)
        - 1.5 * (plan[label_users] > 0)
    )
    churned = rng.random(users * 2) < 1 / (1 + np.exp(-risk))
    age = rng.choice(len(AGE_BANDS), users, p=[0.15, 0.45, 0.3, 0.1])
    labels = pa.table(
        {
            "user_id": pa.array(label_users, pa.int64()),
            "ts": pa.array([start + dt.timedelta(days=int(d), hours=12) for d in label_days], UTC),
            "churned": pa.array(churned.astype(int), pa.int64()),
            # A protected attribute: never a feature, only a cohort the gates check for harm.
            "age_band": pa.array([AGE_BANDS[a] for a in age[label_users]], pa.string()),
        }
    )
    pq.write_table(labels, root / "churn_labels.parquet")
    return World(
        activity="activity/*.parquet",
        labels="churn_labels.parquet",
        users=users,
        activity_rows=activity.num_rows,
        late_rows=late,
        backfilled_rows=backfilled,
        label_rows=labels.num_rows,
        latest_event=pc.max(activity["event_timestamp"]).as_py(),
    )


def latest_labels(root: Path, world: World) -> dict[int, int]:
    """Each user's most recent churn label: the outcome the load generator rewards against."""
    labels = pq.read_table(root / world.labels).to_pandas().sort_values("ts")
    latest = labels.groupby("user_id").tail(1)
    return {int(u): int(c) for u, c in zip(latest["user_id"], latest["churned"], strict=True)}


@dataclass(frozen=True)
class Drift:
    """The world after it changed: each user's new snapshot, and who now churns."""

    activity: str  # the file written, relative to the data root
    latest_event: dt.datetime
    labels: dict[int, int]  # each user's churn in the new world


def drift(root: Path, now: dt.datetime, users: int, seed: int = 11) -> Drift:
    """A product change: everyone clicks about three times as much (input drift), and churn no
    longer follows engagement but support tickets (the model's AUC drops). Each user's new
    snapshot is written as activity of a minute ago; the labels are drawn from the new risk."""
    rng = np.random.default_rng(seed)
    current = pq.read_table(root / "activity").to_pandas()
    latest = current.sort_values("event_timestamp").groupby("user_id").tail(1)
    latest = latest.sort_values("user_id").head(users)
    tickets = rng.poisson(rng.gamma(1.0, 1.0, len(latest)) * 2)
    at = now - dt.timedelta(minutes=1)
    snapshot = pa.table(
        {
            "user_id": pa.array(latest["user_id"], pa.int64()),
            "event_timestamp": pa.array([at] * len(latest), UTC),
            "created_at": pa.array([at] * len(latest), UTC),
            "clicks_7d": pa.array(latest["clicks_7d"] * 3 + 30, pa.float64()),
            "sessions_7d": pa.array(latest["sessions_7d"] * 3, pa.int64()),
            "support_tickets_30d": pa.array(tickets, pa.int64()),
            "tenure_days": pa.array(latest["tenure_days"] + 1, pa.int64()),
            "plan": pa.array(latest["plan"], pa.string()),
            "country": pa.array(latest["country"], pa.string()),
        }
    )
    pq.write_table(snapshot, root / "activity" / "part-1-drifted.parquet")
    risk = 1.6 * (tickets - 2.0)
    churned = rng.random(len(latest)) < 1 / (1 + np.exp(-risk))
    labels = {int(u): int(c) for u, c in zip(latest["user_id"], churned, strict=True)}
    return Drift("activity/part-1-drifted.parquet", at, labels)
