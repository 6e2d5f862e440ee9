"""A ModelMonitor's checks, judged: input drift, prediction drift and the guardrails (ADR 0031);
the performance check is `core/monitor_performance` (ADR 0040).

Pure: the controller hands in the reference histograms kept in status, the logged inputs and
scores of the recent window, and the guardrails' verdicts. PSI is the gates' PSI
(`core/gates.py`) with their noise floor; a check with fewer logged predictions than the
monitor's `minSamples` is Unknown (`TooFewSamples`), never a pass.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from paved.api.feature_view import NUMERIC_TYPES, DataType
from paved.api.model_monitor import (
    FeatureSkewResult,
    Histogram,
    InputDrift,
    MetricReading,
    ModelMonitorSpec,
    PredictionDrift,
    References,
)
from paved.core.conditions import ConditionStatus, Observation
from paved.core.feature_views import FeatureDefinition
from paved.core.gates import (
    Value,
    categorical_counts,
    categories_of,
    numeric_counts,
    psi_binned,
    psi_noise_floor,
    quantile_edges,
)
from paved.core.reasons import MonitorReason as Reason
from paved.core.rollout_steps import GuardrailState, GuardrailVerdict

# Categories a categorical reference keeps at most: the status holds every histogram.
MAX_CATEGORIES = 100


class Check(StrEnum):
    """Each check's condition type: True when it alarms (an abnormal-true condition)."""

    INPUT_DRIFT = "InputDrift"
    PREDICTION_DRIFT = "PredictionDrift"
    GUARDRAILS = "GuardrailBreached"
    PERFORMANCE = "PerformanceDropped"
    FRESHNESS = "FeaturesStale"
    SKEW = "FeaturesSkewed"


class CheckState(StrEnum):
    OK = "ok"
    ALARM = "alarm"
    UNKNOWN = "unknown"


_CONDITION: dict[CheckState, ConditionStatus] = {
    CheckState.OK: "False",
    CheckState.ALARM: "True",
    CheckState.UNKNOWN: "Unknown",
}


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    threshold: float  # max(maxPsi, the noise floor for these sample sizes)

    @property
    def drifted(self) -> bool:
        return self.psi > self.threshold


@dataclass(frozen=True)
class CheckVerdict:
    """One check, judged, with the numbers that decided it."""

    check: Check
    state: CheckState
    reason: Reason
    message: str
    value: float | None = None
    threshold: float | None = None
    samples: int | None = None
    drift: tuple[FeatureDrift, ...] = ()
    readings: tuple[MetricReading, ...] = ()  # the performance check's live metric
    skew: tuple[FeatureSkewResult, ...] = ()  # the skew check's, per feature

    def observation(self) -> Observation:
        return Observation(self.check.value, _CONDITION[self.state], self.reason, self.message)


@dataclass(frozen=True)
class LoggedWindow:
    """The predictions one version served in a window: each feature's values in request order
    (None where a request did not carry it), the scores, a multiclass model's predicted class
    per prediction (`t:<index>`, as Seldon names its columns), and each prediction's entity
    (`entity_key`) and time served."""

    scores: Sequence[float]
    inputs: Mapping[str, Sequence[Value]] = field(default_factory=dict)
    predicted_classes: Sequence[str | None] = ()
    entities: Sequence[str] = ()
    served_at: Sequence[dt.datetime] = ()

    @property
    def samples(self) -> int:
        return len(self.scores)

    def outputs(self) -> Sequence[Value]:
        """What prediction drift compares: the predicted classes of a multiclass model (its
        mix of answers; the top probability alone misses one class taking another's share),
        else the scores."""
        return self.predicted_classes or self.scores


def output_reference(logged: LoggedWindow, *, bins: int) -> Histogram:
    """The reference prediction drift compares a window with: its outputs' distribution."""
    if logged.predicted_classes:
        return histogram("predicted class", logged.predicted_classes, numeric=False, bins=bins)
    return histogram("score", list(logged.scores), numeric=True, bins=bins)


# -- reference histograms ---------------------------------------------------------------------


def _numbers(values: Iterable[Value]) -> list[float]:
    """Logged values as floats; anything that is not a number counts as missing."""
    return [
        float(v) if isinstance(v, int | float) and not isinstance(v, bool) else math.nan
        for v in values
    ]


def histogram(feature: str, values: Sequence[Value], *, numeric: bool, bins: int) -> Histogram:
    """The reference distribution of one feature (or the scores), binned as the gates bin it."""
    if numeric:
        numbers = _numbers(values)
        if all(math.isnan(n) for n in numbers):
            raise ValueError(f"{feature}: the reference has no values to take bin edges from")
        edges = quantile_edges(numbers, bins)
        counts = numeric_counts(edges, numbers)
        return Histogram(
            feature=feature, edges=edges.tolist(), counts=counts.tolist(), rows=len(values)
        )
    categories = _most_frequent(categories_of(values), values)
    counts = categorical_counts(categories, values)
    return Histogram(
        feature=feature, categories=categories, counts=counts.tolist(), rows=len(values)
    )


def _most_frequent(categories: list[str], values: Sequence[Value]) -> list[str]:
    """At most MAX_CATEGORIES of them, the most frequent (the rest share the 'other' bin), so a
    high-cardinality feature's reference still fits in the monitor's status."""
    if len(categories) <= MAX_CATEGORIES:
        return categories
    frequency = Counter(str(v) for v in values if v is not None)
    kept = sorted(categories, key=lambda c: (-frequency[c], c))[:MAX_CATEGORIES]
    return sorted(kept)


def drift(reference: Histogram, values: Sequence[Value], *, max_psi: float) -> FeatureDrift:
    """PSI of `values` against the reference, and the threshold it is held to: `max_psi`, or the
    noise floor two samples of these sizes reach without any drift, whichever is higher."""
    if reference.edges:
        current = numeric_counts(reference.edges, _numbers(values))
    else:
        current = categorical_counts(reference.categories, values)
    psi = psi_binned(reference.counts, current)
    floor = psi_noise_floor(max(reference.rows, 1), max(len(values), 1), max(len(current), 2))
    return FeatureDrift(reference.feature, psi, max(max_psi, floor))


# -- the checks -------------------------------------------------------------------------------


def too_few(check: Check, samples: int, min_samples: int, window: str) -> CheckVerdict | None:
    """Unknown when the window logged fewer predictions than a judgement needs."""
    if samples >= min_samples:
        return None
    message = f"{samples} logged predictions in the last {window} < {min_samples} needed."
    return CheckVerdict(check, CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES, message, samples=samples)


def input_drift(
    references: Sequence[Histogram],
    logged: Mapping[str, Sequence[Value]],
    *,
    spec: InputDrift,
    samples: int,
) -> CheckVerdict:
    """PSI per feature, training set against the window's logged inputs; alarms on any drift."""
    check = Check.INPUT_DRIFT
    if not references:
        message = "No reference histograms of the training set (yet)."
        return CheckVerdict(check, CheckState.UNKNOWN, Reason.NO_REFERENCE, message)
    empty: list[Value] = [None] * samples  # a feature the requests never carried: all missing
    drifts = tuple(
        drift(ref, logged.get(ref.feature, empty), max_psi=spec.max_psi) for ref in references
    )
    worst = max(drifts, key=lambda d: d.psi - d.threshold)
    drifted = [d for d in drifts if d.drifted]
    state = CheckState.ALARM if drifted else CheckState.OK
    reason = Reason.DRIFT_DETECTED if drifted else Reason.NO_DRIFT
    shown = drifted or [worst]
    described = "; ".join(
        f"{d.feature} PSI {d.psi:.3f} {'>' if d.drifted else '≤'} {d.threshold:.3f}" for d in shown
    )
    scope = f"{len(drifted)} of {len(drifts)} features drifted" if drifted else "no drift"
    message = f"{scope} ({samples} logged predictions): {described}."
    value, threshold = worst.psi, worst.threshold
    return CheckVerdict(check, state, reason, message, value, threshold, samples, drifts)


def prediction_drift(
    reference: Histogram | None, outputs: Sequence[Value], *, spec: PredictionDrift
) -> CheckVerdict:
    """PSI of the window's outputs (scores, or predicted classes) against the version's before
    its promotion."""
    check = Check.PREDICTION_DRIFT
    if reference is None:
        message = "No scores of this version logged before its promotion to compare with."
        return CheckVerdict(check, CheckState.UNKNOWN, Reason.NO_REFERENCE, message)
    found = drift(reference, list(outputs), max_psi=spec.max_psi)
    samples = len(outputs)
    numbers = f"{reference.feature} PSI {found.psi:.3f}"
    if found.drifted:
        message = f"{numbers} > {found.threshold:.3f} ({samples} logged predictions)."
        state, reason = CheckState.ALARM, Reason.DRIFT_DETECTED
    else:
        message = f"{numbers} ≤ {found.threshold:.3f} ({samples} logged predictions)."
        state, reason = CheckState.OK, Reason.NO_DRIFT
    return CheckVerdict(check, state, reason, message, found.psi, found.threshold, samples)


def guardrails(verdicts: Sequence[GuardrailVerdict]) -> CheckVerdict:
    """Breached when any guardrail is; Unknown when one has too little data to judge."""
    check = Check.GUARDRAILS
    breached = [v for v in verdicts if v.state is GuardrailState.BREACH]
    if breached:
        message = "; ".join(v.message for v in breached)
        first = breached[0]
        return CheckVerdict(
            check,
            CheckState.ALARM,
            Reason.GUARDRAIL_BREACHED,
            message,
            first.value,
            first.threshold,
        )
    unjudged = [v for v in verdicts if v.state is GuardrailState.NO_DATA]
    if unjudged:
        message = "; ".join(v.message for v in unjudged)
        return CheckVerdict(check, CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES, message)
    message = "; ".join(v.message for v in verdicts)
    return CheckVerdict(check, CheckState.OK, Reason.GUARDRAILS_HOLD, message)


def unavailable(check: Check, reason: Reason, message: str) -> CheckVerdict:
    """A check whose inputs could not be read: Unknown, with why."""
    return CheckVerdict(check, CheckState.UNKNOWN, reason, message)


def drift_verdicts(
    spec: ModelMonitorSpec, references: References | None, logged: LoggedWindow
) -> list[CheckVerdict]:
    """The configured drift checks on one window of the log."""
    verdicts = []
    if spec.input_drift is not None:
        few = too_few(Check.INPUT_DRIFT, logged.samples, spec.min_samples, spec.window)
        features = references.features if references else []
        verdicts.append(
            few
            or input_drift(features, logged.inputs, spec=spec.input_drift, samples=logged.samples)
        )
    if spec.prediction_drift is not None:
        few = too_few(Check.PREDICTION_DRIFT, logged.samples, spec.min_samples, spec.window)
        scores = references.scores if references else None
        drifted = prediction_drift(scores, logged.outputs(), spec=spec.prediction_drift)
        verdicts.append(few or drifted)
    return verdicts


def judged_features(
    trained: Mapping[str, FeatureDefinition], wanted: Sequence[str]
) -> dict[str, bool]:
    """The features input drift judges, each numeric or not: those named, else every feature the
    version trained on that PSI can bin (timestamps are not). ValueError names one it did not
    train on."""
    unknown = [name for name in wanted if name not in trained]
    if unknown:
        known = ", ".join(sorted(trained))
        raise ValueError(
            f"inputDrift.features: {unknown[0]} is not a feature the production "
            f"version trained on ({known})"
        )
    names = wanted or [n for n, f in trained.items() if f.dtype is not DataType.TIMESTAMP]
    return {name: trained[name].dtype in NUMERIC_TYPES for name in names}
