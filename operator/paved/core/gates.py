"""The ML CI gates a ModelVersion must pass before staging: schema, drift, metric, slices,
golden cases. Pure functions of what was measured; each verdict carries its value, threshold,
reason and a message with the numbers in it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from paved.api.feature_view import NUMERIC_TYPES
from paved.api.model_version import MetricGate, SliceGate
from paved.api.tasks import MetricName, higher_is_better
from paved.core.feature_views import FeatureDefinition
from paved.core.reasons import GateReason

PSI_EPSILON: Final = 1e-4
Value = float | int | str | bool | None


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    # Not enough evidence to judge (a slice below its minimum support): reported, not blocking.
    INCONCLUSIVE = "inconclusive"


@dataclass(frozen=True)
class GateVerdict:
    gate: str  # e.g. "schema:clicks_7d", "drift:country", "metric:auc", "slice:new_users"
    verdict: Verdict
    reason: str  # a GateReason; a str, as verdicts come back from the pipeline as JSON
    message: str
    value: float | None = None
    threshold: float | None = None


def blocking(verdicts: Sequence[GateVerdict]) -> list[GateVerdict]:
    return [v for v in verdicts if v.verdict is Verdict.FAIL]


def inconclusive(verdicts: Sequence[GateVerdict]) -> list[GateVerdict]:
    return [v for v in verdicts if v.verdict is Verdict.INCONCLUSIVE]


def summary(verdicts: Sequence[GateVerdict]) -> str:
    """For the printer column and the registry: every gate is counted as what it was."""
    passed = sum(v.verdict is Verdict.PASS for v in verdicts)
    parts = [f"{passed}/{len(verdicts)} passed"]
    if failed := len(blocking(verdicts)):
        parts.append(f"{failed} failed")
    if unjudged := len(inconclusive(verdicts)):
        parts.append(f"{unjudged} inconclusive")
    return ", ".join(parts)


# -- schema ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ColumnProfile:
    """What the training data held in one column."""

    dtype: str  # int64, float64, string or bool
    rows: int
    nulls: int
    min: float | None = None
    max: float | None = None


def schema_gate(
    features: Sequence[FeatureDefinition], profiles: Mapping[str, ColumnProfile]
) -> list[GateVerdict]:
    """Types, nullability and ranges of the training data against the FeatureView's schema."""
    verdicts = []
    for feature in features:
        gate = f"schema:{feature.name}"
        profile = profiles.get(feature.name)
        problems = []
        if profile is None:
            problems.append("missing from the training data")
        else:
            if profile.dtype != feature.dtype.value:
                problems.append(f"type {profile.dtype}, declared {feature.dtype.value}")
            if not feature.nullable and profile.nulls:
                problems.append(f"{profile.nulls} nulls in a non-nullable feature")
            if feature.min is not None and profile.min is not None and profile.min < feature.min:
                problems.append(f"min {profile.min:g} < declared {feature.min:g}")
            if feature.max is not None and profile.max is not None and profile.max > feature.max:
                problems.append(f"max {profile.max:g} > declared {feature.max:g}")
        if problems:
            verdicts.append(
                GateVerdict(
                    gate,
                    Verdict.FAIL,
                    GateReason.SCHEMA_VIOLATED,
                    f"{feature.name}: " + "; ".join(problems),
                )
            )
        else:
            verdicts.append(
                GateVerdict(
                    gate,
                    Verdict.PASS,
                    GateReason.SCHEMA_MATCHES,
                    f"{feature.name} matches its declaration.",
                )
            )
    return verdicts


# -- drift -------------------------------------------------------------------------------------


def _shares(counts: NDArray[np.float64], epsilon: float) -> NDArray[np.float64]:
    # Additive smoothing, then renormalised, so an empty bin neither breaks ln(0) nor
    # leaves the shares summing to more than one.
    smoothed = counts / max(counts.sum(), 1.0) + epsilon
    return np.asarray(smoothed / smoothed.sum(), dtype=np.float64)


def quantile_edges(reference: ArrayLike, bins: int) -> NDArray[np.float64]:
    """The inner bin edges PSI takes from the reference's quantiles (nulls ignored)."""
    ref = np.asarray(reference, dtype=np.float64)
    values = ref[~np.isnan(ref)]
    if values.size == 0:
        raise ValueError("the reference has no values to take bin edges from")
    return np.asarray(np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1])))


def numeric_counts(edges: ArrayLike, values: ArrayLike) -> NDArray[np.float64]:
    """Counts per bin between `edges` (open at both ends), then the nulls' own bin."""
    cut = np.asarray(edges, dtype=np.float64)
    array = np.asarray(values, dtype=np.float64)
    present = array[~np.isnan(array)]
    binned = np.bincount(np.searchsorted(cut, present, side="right"), minlength=cut.size + 1)
    return np.append(binned, int(np.isnan(array).sum())).astype(np.float64)


def psi_numeric(
    reference: ArrayLike, current: ArrayLike, bins: int = 10, *, epsilon: float = PSI_EPSILON
) -> float:
    """PSI with bin edges from the reference's quantiles (open at both ends); nulls: own bin."""
    edges = quantile_edges(reference, bins)
    return psi_binned(numeric_counts(edges, reference), numeric_counts(edges, current), epsilon)


def psi_binned(expected: ArrayLike, actual: ArrayLike, epsilon: float = PSI_EPSILON) -> float:
    """PSI of two histograms over the same bins (counts, not shares)."""
    reference = _shares(np.asarray(expected, dtype=np.float64), epsilon)
    current = _shares(np.asarray(actual, dtype=np.float64), epsilon)
    return float(np.sum((current - reference) * np.log(current / reference)))


def categories_of(reference: Sequence[Value]) -> list[str]:
    """The reference's categories, as PSI bins them (then 'other', then missing)."""
    return sorted({str(v) for v in reference if v is not None})


def categorical_counts(categories: Sequence[str], values: Sequence[Value]) -> NDArray[np.float64]:
    """Counts per category, then unseen categories' 'other' bin, then the nulls' bin."""
    index = {category: i for i, category in enumerate(categories)}
    other, missing = len(categories), len(categories) + 1
    result = np.zeros(len(categories) + 2)
    for value in values:
        result[missing if value is None else index.get(str(value), other)] += 1
    return result


def psi_categorical(
    reference: Sequence[Value], current: Sequence[Value], epsilon: float = PSI_EPSILON
) -> float:
    """PSI over the reference's categories; unseen categories share one 'other' bin."""
    categories = categories_of(reference)
    return psi_binned(
        categorical_counts(categories, reference), categorical_counts(categories, current), epsilon
    )


def psi_noise_floor(
    reference_rows: int, current_rows: int, bins: int, *, alpha: float = 0.01
) -> float:
    """The PSI two samples of these sizes reach without any drift, at confidence 1 - alpha.

    Under no drift PSI ≈ (1/n + 1/m)·χ²(bins - 1): on small samples a fixed 0.1 or 0.2 fires
    on noise alone, so the gate's threshold never drops below this floor.
    """
    # scipy takes seconds to import and only the drift gate needs it: not every `import paved`.
    from scipy import stats

    return float(stats.chi2.ppf(1 - alpha, bins - 1) * (1 / reference_rows + 1 / current_rows))


def most_important(importances: Mapping[str, float], count: int) -> list[str]:
    """The `count` features the model leans on most (ties by name): drift where it matters."""
    ranked = sorted(importances.items(), key=lambda item: (-item[1], item[0]))
    return [name for name, _ in ranked[:count]]


def drift_not_judged(feature: FeatureDefinition, why: str) -> GateVerdict:
    """A feature with no serving inputs to compare with (nothing serves it yet): named, not
    passed over."""
    return GateVerdict(
        f"drift:{feature.name}",
        Verdict.INCONCLUSIVE,
        GateReason.NO_SERVING_INPUTS,
        f"{feature.name}: {why}; not judged",
    )


def drift_gate(
    feature: FeatureDefinition,
    reference: Sequence[Value],
    current: Sequence[Value],
    *,
    max_psi: float,
    bins: int,
    compared: str = "",
) -> GateVerdict:
    """PSI of one feature, current vs reference, against max(max_psi, the noise floor);
    `compared` names the two samples in the message (e.g. "training vs serving inputs")."""
    numeric = feature.dtype in NUMERIC_TYPES
    if numeric:
        value = psi_numeric(
            [math.nan if v is None else float(v) for v in reference],
            [math.nan if v is None else float(v) for v in current],
            bins,
        )
    else:
        value = psi_categorical(reference, current)
    effective_bins = bins + 1 if numeric else len({str(v) for v in reference}) + 2
    floor = psi_noise_floor(len(reference), len(current), max(effective_bins, 2))
    threshold = max(max_psi, floor)
    note = (
        f" (noise floor {floor:.3f} for n={len(reference)}, m={len(current)})"
        if floor > max_psi
        else ""
    ) + (f", {compared}" if compared else "")
    gate = f"drift:{feature.name}"
    if value > threshold:
        return GateVerdict(
            gate,
            Verdict.FAIL,
            GateReason.DRIFT_DETECTED,
            f"{feature.name}: PSI {value:.3f} > {threshold:.3f}{note}",
            value,
            threshold,
        )
    return GateVerdict(
        gate,
        Verdict.PASS,
        GateReason.NO_DRIFT,
        f"{feature.name}: PSI {value:.3f} ≤ {threshold:.3f}{note}",
        value,
        threshold,
    )


# -- metric, slices, golden cases ----------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """What a candidate is compared with: the model serving the baseline now, scored on the
    candidate's own holdout, or (`name` None) nothing, and then only the absolute floor judges."""

    name: str | None  # e.g. "churn-v1"
    value: float | None = None  # its metric on the same rows; None: it could not be scored
    why_unscored: str = ""


NO_REFERENCE: Final = Reference(None)


def _regression(candidate: float, production: float, higher_is_better: bool) -> float:
    """How much worse the candidate is (positive) or better (negative)."""
    return production - candidate if higher_is_better else candidate - production


def _past(value: float, floor: float, higher_is_better: bool) -> bool:
    return value < floor if higher_is_better else value > floor


def strictest_floor(metric: MetricName, floors: Sequence[float | None]) -> float | None:
    """Of the floors set (the ModelVersion's minValue, each policy's), the hardest to meet."""
    given = [f for f in floors if f is not None]
    if not given:
        return None
    return max(given) if higher_is_better(metric) else min(given)


@dataclass(frozen=True)
class Epsilon:
    """How much worse than the reference a candidate may be: in the metric's units, or
    (`relative`) as a fraction of the reference's value on the same rows."""

    amount: float
    relative: bool = False

    def allowed(self, reference: float) -> float:
        return self.amount * abs(reference) if self.relative else self.amount

    def says(self, reference: float) -> str:
        allowed = f"{self.allowed(reference):.4f}"
        return f"{allowed} ({self.amount:.2%} of {reference:.4f})" if self.relative else allowed


def epsilon(gate: MetricGate | SliceGate) -> Epsilon:
    """The gate's epsilon, in whichever form it was given (the API allows one)."""
    if gate.max_relative_regression is not None:
        return Epsilon(gate.max_relative_regression, relative=True)
    return Epsilon(gate.max_regression)


def _compared(
    gate: str,
    compared: str,
    worse_by: float,
    *,
    allowed: float,
    says: str,
    failed: GateReason,
    held: GateReason,
) -> GateVerdict:
    """The verdict of a candidate-vs-reference comparison; `compared` says what was compared,
    `says` how the allowed regression was reached."""
    if worse_by > allowed:
        message = f"{compared}: worse by {worse_by:.4f} > {says}"
        return GateVerdict(gate, Verdict.FAIL, failed, message, worse_by, allowed)
    message = f"{compared}: within {says}"
    return GateVerdict(gate, Verdict.PASS, held, message, worse_by, allowed)


def _below_floor(
    gate: str, measured: str, value: float, floor: float | None, higher_is_better: bool
) -> GateVerdict | None:
    """The failing verdict of a value past the absolute floor; None when it meets it."""
    if floor is None or not _past(value, floor, higher_is_better):
        return None
    message = f"{measured} is past the absolute floor {floor:.4f}"
    return GateVerdict(gate, Verdict.FAIL, GateReason.BELOW_FLOOR, message, value, floor)


def _without_comparison(
    gate: str, measured: str, candidate: float, reference: Reference, floor: float | None
) -> GateVerdict:
    """No number to compare with: the floor judges a first model; an unscored reference is
    named as such rather than passed over."""
    if reference.name is not None:
        return GateVerdict(
            gate,
            Verdict.INCONCLUSIVE,
            GateReason.REFERENCE_UNSCORED,
            f"{measured}; reference {reference.name} not scored on the same holdout "
            f"({reference.why_unscored or 'no value'}); not judged",
            candidate,
            None,
        )
    if floor is None:
        return GateVerdict(
            gate,
            Verdict.PASS,
            GateReason.NO_PRODUCTION_MODEL,
            f"{measured}; no reference and no absolute floor to judge it by",
            candidate,
            None,
        )
    message = f"{measured}; no reference: absolute floor {floor:.4f}"
    return GateVerdict(gate, Verdict.PASS, GateReason.FLOOR_MET, message, candidate, floor)


def _as_epsilon(max_regression: float | Epsilon) -> Epsilon:
    return max_regression if isinstance(max_regression, Epsilon) else Epsilon(max_regression)


def metric_gate(
    name: str,
    candidate: float,
    reference: Reference,
    *,
    max_regression: float | Epsilon,
    min_value: float | None,
    higher_is_better: bool = True,
) -> GateVerdict:
    gate = f"metric:{name}"
    below = _below_floor(gate, f"{name} {candidate:.4f}", candidate, min_value, higher_is_better)
    if below is not None:
        return below
    if reference.name is None or reference.value is None:
        return _without_comparison(gate, f"{name} {candidate:.4f}", candidate, reference, min_value)
    worse_by = _regression(candidate, reference.value, higher_is_better)
    compared = (
        f"{name} {candidate:.4f} vs {reference.name} {reference.value:.4f} on the same holdout"
    )
    margin = _as_epsilon(max_regression)
    return _compared(
        gate,
        compared,
        worse_by,
        allowed=margin.allowed(reference.value),
        says=margin.says(reference.value),
        failed=GateReason.METRIC_REGRESSED,
        held=GateReason.METRIC_HOLDS,
    )


def slice_gate(
    name: str,
    metric: str,
    candidate: float | None,
    *,
    reference: Reference,
    support: int,
    min_support: int,
    max_regression: float | Epsilon,
    floor: float | None = None,
    higher_is_better: bool = True,
) -> GateVerdict:
    """A slice against the reference on the same rows; with no reference, against `floor`."""
    gate = f"slice:{name}"
    if support < min_support or candidate is None:
        return GateVerdict(
            gate,
            Verdict.INCONCLUSIVE,
            GateReason.INSUFFICIENT_SUPPORT,
            f"slice {name}: {support} rows < minimum {min_support}; not judged",
            float(support),
            float(min_support),
        )
    measured = f"slice {name}: {metric} {candidate:.4f} on {support} rows"
    # A slice meets the floor when there is no reference; with one, the comparison judges it.
    below = _below_floor(gate, measured, candidate, floor, higher_is_better)
    if below is not None and reference.name is None:
        return below
    if reference.name is None or reference.value is None:
        return _without_comparison(gate, measured, candidate, reference, floor)
    worse_by = _regression(candidate, reference.value, higher_is_better)
    compared = (
        f"slice {name}: {metric} {candidate:.4f} vs {reference.name} {reference.value:.4f} "
        f"on the same {support} rows"
    )
    margin = _as_epsilon(max_regression)
    return _compared(
        gate,
        compared,
        worse_by,
        allowed=margin.allowed(reference.value),
        says=margin.says(reference.value),
        failed=GateReason.SLICE_REGRESSED,
        held=GateReason.SLICE_HOLDS,
    )


@dataclass(frozen=True)
class GoldenResult:
    case: str
    score: float  # a classifier's probability (binary: the positive class's), a regressor's value
    label: int | None  # the predicted class; None: a regressor's
    expect_label: int | None = None
    expect_score_min: float | None = None
    expect_score_max: float | None = None

    @property
    def problem(self) -> str | None:
        if self.expect_label is not None and self.label != self.expect_label:
            return f"{self.case}: label {self.label}, expected {self.expect_label}"
        if self.expect_score_min is not None and self.score < self.expect_score_min:
            return f"{self.case}: score {self.score:.3f} < {self.expect_score_min:.3f}"
        if self.expect_score_max is not None and self.score > self.expect_score_max:
            return f"{self.case}: score {self.score:.3f} > {self.expect_score_max:.3f}"
        return None


def golden_gate(results: Sequence[GoldenResult]) -> GateVerdict:
    problems = [r.problem for r in results if r.problem is not None]
    if problems:
        shown = "; ".join(problems[:5]) + (
            f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        )
        return GateVerdict(
            "golden",
            Verdict.FAIL,
            GateReason.GOLDEN_CASES_FAILED,
            f"{len(problems)}/{len(results)} golden cases failed: {shown}",
            float(len(problems)),
            0.0,
        )
    return GateVerdict(
        "golden",
        Verdict.PASS,
        GateReason.GOLDEN_CASES_HOLD,
        f"{len(results)} golden cases hold",
        0.0,
        0.0,
    )
