"""A ModelMonitor's feature checks (ADR 0043): freshness per entity, and training/serving skew.

Pure: the controller hands in what the online store answered for the entities the production
version served in the window (each requested feature's status, each view's event time) and, for
a sample of the logged predictions, what the model saw beside what the offline store's
point-in-time join gives for the same entity at the moment it was served.

A view's watermark says how new its newest event is; it says nothing of the entity whose row
stopped being written a week ago while its neighbours' kept coming. Freshness here is counted
per entity served, so a model served on stale rows is seen even while the view is fresh.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from paved.api.model_monitor import FeatureSkewResult, Freshness, Skew
from paved.core.gates import Value
from paved.core.monitor_checks import Check, CheckState, CheckVerdict, LoggedWindow
from paved.core.online_values import ValueStatus
from paved.core.reasons import MonitorReason as Reason

# Mismatches a skew message shows, as examples of what differed.
SHOWN_EXAMPLES = 3


class Staleness(StrEnum):
    FRESH = "fresh"
    STALE = "stale"  # past a view's ttl or a feature's SLO, or older than maxAge
    MISSING = "missing"  # a view has nothing online for the entity


@dataclass(frozen=True)
class EntityRead:
    """What the online store answered for one served entity."""

    entity: str
    statuses: tuple[ValueStatus, ...]  # each requested feature's
    event_times: tuple[dt.datetime | None, ...]  # each requested view's row (None: no row)


def served_entities(logged: LoggedWindow) -> list[str]:
    """The distinct entities the window served, the most recently served first (those whose
    staleness matters now come first when only some are read)."""
    by_time = sorted(
        zip(logged.served_at, logged.entities, strict=True), key=lambda p: p[0], reverse=True
    )
    return list(dict.fromkeys(entity for _, entity in by_time))


def keyed(entities: Sequence[str], join_keys: Iterable[str]) -> list[tuple[str, dict[str, Any]]]:
    """The logged entities (`entity_key` JSON) that name every join key the features need, each
    with its keys: a request that named no entity has no row to look up."""
    wanted = set(join_keys)
    found = []
    for entity in entities:
        try:
            keys = json.loads(entity)
        except ValueError:
            continue
        if isinstance(keys, dict) and all(keys.get(k) is not None for k in wanted):
            found.append((entity, keys))
    return found


def staleness(read: EntityRead, *, now: dt.datetime, max_age: dt.timedelta | None) -> Staleness:
    statuses = set(read.statuses)
    if ValueStatus.NOT_FOUND in statuses:
        return Staleness.MISSING
    if statuses & {ValueStatus.STALE, ValueStatus.EXPIRED}:
        return Staleness.STALE
    if any(at is None for at in read.event_times):
        return Staleness.MISSING
    if max_age is not None and any(now - at > max_age for at in read.event_times if at):
        return Staleness.STALE
    return Staleness.FRESH


def freshness(
    reads: Sequence[EntityRead],
    *,
    spec: Freshness,
    max_age: dt.timedelta | None,
    now: dt.datetime,
) -> CheckVerdict:
    """Alarm when more of the served entities than `maxStaleFraction` have stale or missing
    online features."""
    check = Check.FRESHNESS
    if not reads:
        message = "No prediction of the window names its entity's join keys: nothing to judge."
        return CheckVerdict(check, CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES, message, samples=0)
    found = Counter(staleness(read, now=now, max_age=max_age) for read in reads)
    stale = found[Staleness.STALE] + found[Staleness.MISSING]
    fraction = stale / len(reads)
    alarm = fraction > spec.max_stale_fraction
    ages = [now - at for read in reads for at in read.event_times if at is not None]
    oldest = f"; the oldest row online is {_age(max(ages))} old" if ages else ""
    message = (
        f"{stale} of {len(reads)} served entities have stale features"
        f" ({found[Staleness.STALE]} past a ttl, freshness SLO or maxAge;"
        f" {found[Staleness.MISSING]} with none online): {fraction:.2%}"
        f" {'>' if alarm else '≤'} {spec.max_stale_fraction:.2%}{oldest}."
    )
    state, reason = (
        (CheckState.ALARM, Reason.FEATURES_STALE)
        if alarm
        else (CheckState.OK, Reason.FEATURES_FRESH)
    )
    return CheckVerdict(
        check, state, reason, message, fraction, spec.max_stale_fraction, len(reads)
    )


def _age(age: dt.timedelta) -> str:
    seconds = int(age.total_seconds())
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# -- skew -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SkewSample:
    """One logged prediction: what the model saw, and the offline store's point-in-time values
    for its entity as of when it was served."""

    entity: str
    served_at: dt.datetime
    logged: Mapping[str, Value]  # only the features the request carried
    offline: Mapping[str, Value]


def sample_indices(total: int, size: int) -> list[int]:
    """At most `size` indices spread evenly over `total` rows (all of them when fewer)."""
    if total <= size:
        return list(range(total))
    return sorted({round(i * (total - 1) / max(size - 1, 1)) for i in range(size)})


def compared_features(trained: Sequence[str], wanted: Sequence[str]) -> list[str]:
    """The features the skew check compares: those named, else every one the version trained
    on; ValueError names one it did not train on."""
    unknown = [name for name in wanted if name not in trained]
    if unknown:
        raise ValueError(
            f"skew.features: {unknown[0]} is not a feature the production version trained on"
        )
    return list(wanted) or list(trained)


def skew_rows(logged: LoggedWindow, join_keys: Iterable[str], size: int) -> list[int]:
    """At most `size` of the window's predictions, spread evenly over those that name their
    entity's join keys."""
    named = {entity for entity, _ in keyed(logged.entities, join_keys)}
    carrying = [i for i, entity in enumerate(logged.entities) if entity in named]
    return [carrying[i] for i in sample_indices(len(carrying), size)]


def skew_samples(
    logged: LoggedWindow,
    picked: Sequence[int],
    *,
    features: Sequence[str],
    offline: Sequence[Mapping[str, Value]],
) -> list[SkewSample]:
    """The picked predictions, each with the features it carried (a null is one it did not)
    beside the offline store's values for it (in `picked`'s order)."""
    return [
        SkewSample(
            logged.entities[i],
            logged.served_at[i],
            {
                f: logged.inputs[f][i]
                for f in features
                if f in logged.inputs and logged.inputs[f][i] is not None
            },
            found,
        )
        for i, found in zip(picked, offline, strict=True)
    ]


def equal(logged: Value, offline: Value, *, tolerance: float) -> bool:
    """Whether a logged value is the offline one: numbers within `tolerance` (relative to the
    larger, absolute below 1), NaN equal to NaN, timestamps by instant (the log holds ISO text),
    anything else by its text."""
    if logged is None or offline is None:
        return logged is None and offline is None
    a, b = _number(logged), _number(offline)
    if a is not None and b is not None:
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))
    instants = _instant(logged), _instant(offline)
    if instants[0] is not None and instants[1] is not None:
        return instants[0] == instants[1]
    return str(logged) == str(offline)


def _number(value: Value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _instant(value: Value) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def skew(samples: Sequence[SkewSample], *, features: Sequence[str], spec: Skew) -> CheckVerdict:
    """Per feature, the share of sampled predictions whose logged value the offline store does
    not give back; alarm when any feature's exceeds `maxMismatchRate`."""
    check = Check.SKEW
    results, examples = [], []
    for feature in features:
        carried = [s for s in samples if feature in s.logged]
        differ = [
            s
            for s in carried
            if not equal(s.logged[feature], s.offline.get(feature), tolerance=spec.tolerance)
        ]
        rate = len(differ) / len(carried) if carried else 0.0
        results.append(
            FeatureSkewResult(
                feature=feature,
                mismatch_rate=rate,
                compared=len(carried),
                threshold=spec.max_mismatch_rate,
            )
        )
        examples += [(feature, s) for s in differ[:1]]
    judged = [r for r in results if r.compared]
    if not judged:
        message = (
            f"None of the {len(samples)} sampled predictions named its entity and carried a"
            " feature compared."
        )
        return CheckVerdict(check, CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES, message)
    skewed = [r for r in judged if r.mismatch_rate > spec.max_mismatch_rate]
    worst = max(judged, key=lambda r: r.mismatch_rate)
    shown = skewed or [worst]
    described = "; ".join(
        f"{r.feature} differs in {round(r.mismatch_rate * r.compared)} of {r.compared}"
        f" ({r.mismatch_rate:.2%} {'>' if r in skewed else '≤'} {spec.max_mismatch_rate:.2%})"
        for r in shown
    )
    names = {r.feature for r in skewed}
    shown_examples = "; ".join(
        f"{s.entity} at {s.served_at.isoformat()}: {f} served {s.logged[f]!r},"
        f" offline {s.offline.get(f)!r}"
        for f, s in [e for e in examples if e[0] in names][:SHOWN_EXAMPLES]
    )
    state, reason = (
        (CheckState.ALARM, Reason.SKEW_DETECTED) if skewed else (CheckState.OK, Reason.NO_SKEW)
    )
    scope = f"{len(skewed)} of {len(judged)} features skewed" if skewed else "no skew"
    tail = f" E.g. {shown_examples}." if shown_examples else ""
    message = f"{scope} ({len(samples)} sampled predictions): {described}.{tail}"
    return CheckVerdict(
        check,
        state,
        reason,
        message,
        worst.mismatch_rate,
        spec.max_mismatch_rate,
        len(samples),
        skew=tuple(results),
    )
