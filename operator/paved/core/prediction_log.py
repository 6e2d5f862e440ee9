"""The prediction log's rules: which requests are logged, where a record goes, and which outcome
judges each prediction (the point-in-time join). Pure: the clock comes in as `as_of`.

An outcome is known to the log from the moment it was received. The join as of a moment sees
only what was known then, so a late outcome joins the next time, and the same log joined as of
the same moment gives the same labels whatever order outcomes arrived in and however often one
was repeated. Two kinds of outcome judge a prediction:

- **feedback**, by request id (Seldon's feedback carries the response, and so its `puid`): the
  truth it gives is the prediction's own label, and it wins over a label of the entity (a
  feedback's reward alone judges how the answer served, not what was true: it is logged as a
  reward and never joined);
- a **label**, by entity and time (a label source declared on the model): the first label of the
  prediction's entity whose event time is after the prediction, within the horizon.

Repeats of one outcome (the same request id; the same entity and event time) are one outcome:
the one received last, so a correction supersedes and a retried duplicate changes nothing. Ties
in received time go to the larger value (then the later event), so the answer never depends on
arrival order.
"""

from __future__ import annotations

import bisect
import datetime as dt
import enum
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any, Final
from urllib.parse import quote

_HASH_SPACE: Final = 2**64
UNNAMED_MODEL: Final = "_unnamed"  # a serving object no registry version was annotated on


class LogKind(enum.StrEnum):
    """The two tables of the log, each a folder under the namespace's data root."""

    PREDICTIONS = "predictions"
    OUTCOMES = "outcomes"


class OutcomeKind(enum.StrEnum):
    FEEDBACK = "feedback"  # the prediction's label (Seldon feedback's truth), keyed by request id
    LABEL = "label"  # keyed by entity, at its event time
    # Seldon feedback's reward, keyed by request id: how well an answer served, not what the
    # truth was. Kept in the log; never joined as a label.
    REWARD = "reward"


@dataclass(frozen=True)
class Prediction:
    """One prediction as the log holds it, with the features it saw as the log wrote them
    (canonical JSON, parsed when asked: most reads judge scores, not features)."""

    request_id: str
    entity: str  # `entity_key` of the join keys
    served_at: dt.datetime
    model_version: str
    score: float  # the score, or a multiclass model's top class probability (its confidence)
    class_scores: tuple[float, ...] = ()  # a multiclass model's class probabilities, else none
    logged_features: str = field(default="{}", compare=False, repr=False)

    @cached_property
    def features(self) -> Mapping[str, Any]:
        """What the model saw, feature name → value (a feature the request lacked is absent)."""
        found = json.loads(self.logged_features)
        return found if isinstance(found, dict) else {}


@dataclass(frozen=True)
class Outcome:
    """One outcome as it reached the log: `key` is a request id (feedback) or an entity (label)."""

    kind: OutcomeKind
    key: str
    value: float
    event_time: dt.datetime  # when it happened
    received_at: dt.datetime  # when the log learnt of it


@dataclass(frozen=True)
class Joined:
    prediction: Prediction
    outcome: Outcome | None  # None: nothing known yet that judges it


def predicted_class(class_scores: Sequence[float]) -> str | None:
    """A multiclass prediction's class, `t:<index>` as Seldon names the columns (the first of
    equal probabilities); None for a model with one score."""
    if not class_scores:
        return None
    return f"t:{max(range(len(class_scores)), key=class_scores.__getitem__)}"


def sampled(request_id: str, rate: float) -> bool:
    """Whether a request is logged at `rate` (0..1): decided by its id's hash, so every record
    of one request (its prediction, its shadow, its feedback) is in or out together."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"a sampling rate is between 0 and 1, not {rate}")
    digest = hashlib.sha256(request_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") < rate * _HASH_SPACE


def logged_features(features: Mapping[str, object]) -> str:
    """The features a model saw as the log keeps them: canonical JSON (a timestamp as ISO
    text)."""
    return json.dumps(dict(features), separators=(",", ":"), default=str)


def batch_request_id(name: str, *, model_version: str, as_of: dt.datetime) -> str:
    """A batch run's id in the log (the BatchPrediction, the version that scored and the run's
    as-of); each of its predictions' is `<run>/<entity key>`, so a redone run logs the same ones
    under the same ids."""
    return f"batch/{name}/{model_version}/{as_of.astimezone(dt.UTC).isoformat()}"


def entity_key(join_keys: Mapping[str, object]) -> str:
    """One string per entity: its join keys as canonical JSON (`{"user_id":42}`)."""
    return json.dumps(dict(sorted(join_keys.items())), separators=(",", ":"), default=str)


def labels_as_outcomes(
    rows: Iterable[Mapping[str, Any]],
    *,
    entity_columns: Sequence[str],
    timestamp_column: str,
    label: str,
) -> list[Outcome]:
    """A label source's rows as outcomes by entity and time, known from their own time (a file
    of labels has no received time of its own). TypeError or ValueError for a label that is no
    number, a time that is no time."""
    outcomes = []
    for row in rows:
        at = row[timestamp_column]
        if not isinstance(at, dt.datetime):
            raise TypeError(f"{timestamp_column}: {at!r} is not a timestamp")
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)  # a timestamp without a zone is UTC, as the log's
        entity = entity_key({column: row[column] for column in entity_columns})
        value = float(row[label])
        if not math.isfinite(value):
            raise ValueError(f"{label}: {row[label]!r} is not a finite number")
        outcomes.append(Outcome(OutcomeKind.LABEL, entity, value, at, at))
    return outcomes


def partition(kind: LogKind, model: str, day: dt.date) -> PurePosixPath:
    """Where a record goes under the namespace's data root: `<kind>/model=<m>/day=<YYYY-MM-DD>`,
    Hive's layout (the name escaped as Hive does), which DuckDB and Spark read as columns."""
    segment = quote(model, safe="-_.") if model else UNNAMED_MODEL
    if segment in (".", ".."):
        segment = segment.replace(".", "%2E")  # `quote` leaves dots alone
    return PurePosixPath(kind.value, f"model={segment}", f"day={day.isoformat()}")


def join(
    predictions: Iterable[Prediction],
    outcomes: Iterable[Outcome],
    *,
    as_of: dt.datetime,
    horizon: dt.timedelta,
) -> list[Joined]:
    """Each prediction, in order, with the outcome that judges it as known at `as_of`."""
    known = [o for o in outcomes if o.received_at <= as_of]
    feedback = _last_received(o for o in known if o.kind is OutcomeKind.FEEDBACK)
    labels = _labels_by_entity(o for o in known if o.kind is OutcomeKind.LABEL)
    joined = []
    for prediction in predictions:
        outcome = feedback.get((prediction.request_id, None))
        if outcome is None:
            outcome = _first_label_after(labels.get(prediction.entity), prediction, horizon)
        joined.append(Joined(prediction, outcome))
    return joined


def _order(outcome: Outcome) -> tuple[dt.datetime, float, dt.datetime]:
    """Received last wins; then the larger value, the later event: a total order on outcomes
    of one key, so the winner never depends on arrival order."""
    return outcome.received_at, outcome.value, outcome.event_time


def _last_received(outcomes: Iterable[Outcome]) -> dict[tuple[str, dt.datetime | None], Outcome]:
    """One outcome per key (feedback: request id; label: entity and event time)."""
    best: dict[tuple[str, dt.datetime | None], Outcome] = {}
    for outcome in outcomes:
        at = outcome.event_time if outcome.kind is OutcomeKind.LABEL else None
        kept = best.get((outcome.key, at))
        if kept is None or _order(outcome) > _order(kept):
            best[(outcome.key, at)] = outcome
    return best


@dataclass(frozen=True)
class _Timeline:
    """One entity's labels, one per event time, in event-time order (and their times, to bisect)."""

    times: Sequence[dt.datetime]
    labels: Sequence[Outcome]


def _labels_by_entity(outcomes: Iterable[Outcome]) -> dict[str, _Timeline]:
    by_entity: dict[str, list[Outcome]] = {}
    for outcome in _last_received(outcomes).values():
        by_entity.setdefault(outcome.key, []).append(outcome)
    timelines = {}
    for entity, labels in by_entity.items():
        labels.sort(key=lambda label: label.event_time)
        timelines[entity] = _Timeline([label.event_time for label in labels], labels)
    return timelines


def _first_label_after(
    timeline: _Timeline | None, prediction: Prediction, horizon: dt.timedelta
) -> Outcome | None:
    if timeline is None:
        return None
    at = bisect.bisect_right(timeline.times, prediction.served_at)
    if at == len(timeline.labels) or timeline.times[at] > prediction.served_at + horizon:
        return None
    return timeline.labels[at]
