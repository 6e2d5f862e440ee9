"""A retraining's labels from the prediction log (issue #19, item 3: "labels from the prediction
log, a fresh data window"): each logged prediction whose outcome is known becomes one label row,
its entity's join keys, the time it was served and its outcome.

The time is when it was served, so the training run joins each row's features as of then: the
features the model saw, point-in-time, never later ones. One row per request id (a shadow's
prediction of the same request is not a second label). Pure: the controller reads the joined log
and writes the rows.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from pathlib import PurePosixPath

from paved.api.model_version import Labels
from paved.api.tasks import Task
from paved.core.prediction_log import Joined

# Under the namespace's data root: `retrained/<monitor>/<ModelVersion>.parquet`.
FOLDER = "retrained"
LabelRow = dict[str, object]


def labels_path(monitor: str, model_version: str) -> str:
    """Where a retraining's labels file goes, relative to the namespace's data root: one file a
    retraining, so a tick repeated after a crash writes the same file again."""
    return str(PurePosixPath(FOLDER, monitor, f"{model_version}.parquet"))


def label_rows(joined: Sequence[Joined], labels: Labels, task: Task) -> list[LabelRow]:
    """The judged predictions as rows of `labels`' columns, in the order they were served; a
    prediction logged without an entity that has those columns cannot be a label and is left out."""
    rows: dict[str, tuple[dt.datetime, LabelRow]] = {}
    for row in joined:
        keys = _keys(row.prediction.entity)
        if row.outcome is None or keys is None or not math.isfinite(row.outcome.value):
            continue
        if any(column not in keys for column in labels.entity_columns):
            continue
        value: float | int = row.outcome.value
        if task in (Task.BINARY, Task.MULTICLASS):
            value = round(value)  # a class, as the labels a classifier trains on
        served = row.prediction.served_at
        label = {c: keys[c] for c in labels.entity_columns}
        label |= {labels.timestamp_column: served, labels.label: value}
        rows[row.prediction.request_id] = (served, label)
    return [label for _, label in sorted(rows.values(), key=lambda kept: kept[0])]


def _keys(entity: str) -> dict[str, object] | None:
    """An entity's join keys from the log's canonical JSON; None for none, or not an object."""
    if not entity:
        return None
    try:
        found = json.loads(entity)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None
