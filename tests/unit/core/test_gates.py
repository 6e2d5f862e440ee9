from __future__ import annotations

import numpy as np
import pytest

from paved.api.feature_view import DataType
from paved.api.model_version import MetricGate
from paved.core.feature_views import FeatureDefinition
from paved.core.gates import (
    NO_REFERENCE,
    ColumnProfile,
    Epsilon,
    GateVerdict,
    GoldenResult,
    Reference,
    Verdict,
    blocking,
    drift_gate,
    drift_not_judged,
    epsilon,
    golden_gate,
    metric_gate,
    most_important,
    psi_categorical,
    psi_noise_floor,
    psi_numeric,
    schema_gate,
    slice_gate,
    summary,
)
from paved.core.reasons import GateReason

CLICKS = FeatureDefinition("clicks_7d", DataType.FLOAT64, nullable=False, min=0, max=1000)
COUNTRY = FeatureDefinition("country", DataType.STRING)
RNG = np.random.default_rng(7)


def test_schema_gate_passes_data_that_matches_the_declaration() -> None:
    profiles = {
        "clicks_7d": ColumnProfile("float64", rows=100, nulls=0, min=0, max=99),
        "country": ColumnProfile("string", rows=100, nulls=3),
    }
    assert [v.verdict for v in schema_gate([CLICKS, COUNTRY], profiles)] == [Verdict.PASS] * 2


def test_schema_gate_names_every_problem_of_a_feature() -> None:
    profiles = {"clicks_7d": ColumnProfile("int64", rows=100, nulls=2, min=-1, max=5000)}
    clicks, country = schema_gate([CLICKS, COUNTRY], profiles)
    assert clicks.verdict is Verdict.FAIL
    assert clicks.message == (
        "clicks_7d: type int64, declared float64; 2 nulls in a non-nullable feature; "
        "min -1 < declared 0; max 5000 > declared 1000"
    )
    assert (country.verdict, country.message) == (
        Verdict.FAIL,
        "country: missing from the training data",
    )


def test_psi_is_zero_for_identical_samples_and_symmetric_enough_to_trust() -> None:
    sample = RNG.normal(size=5000)
    assert psi_numeric(sample, sample) == pytest.approx(0.0, abs=1e-12)
    shifted = sample + 1.0
    assert psi_numeric(sample, shifted) > 0.5


def test_psi_bins_come_from_the_reference_and_nulls_have_their_own_bin() -> None:
    reference = np.arange(1000, dtype=float)
    with_nulls = np.where(np.arange(1000) % 4 == 0, np.nan, reference)
    assert psi_numeric(reference, with_nulls) > 0.2  # a quarter of the values went missing
    # Values beyond the reference range land in the open end bins instead of being dropped.
    assert psi_numeric(reference, reference + 10_000) > 5


def test_psi_of_an_empty_bin_is_finite() -> None:
    reference = np.arange(100, dtype=float)
    assert np.isfinite(psi_numeric(reference, np.full(100, 50.0)))


def test_categorical_psi_counts_unseen_categories_in_one_other_bin() -> None:
    assert psi_categorical(["DE", "FR"] * 50, ["DE", "FR"] * 50) == pytest.approx(0.0)
    assert psi_categorical(["DE", "FR"] * 50, ["IT", "ES"] * 50) > 1


def test_small_samples_raise_the_threshold_to_the_noise_floor() -> None:
    # No drift at all: two samples of 100 from one distribution.
    reference, current = RNG.normal(size=100), RNG.normal(size=100)
    floor = psi_noise_floor(100, 100, bins=11)
    assert floor > 0.2
    verdict = drift_gate(CLICKS, list(reference), list(current), max_psi=0.1, bins=10)
    assert verdict.verdict is Verdict.PASS
    assert verdict.threshold == pytest.approx(floor)
    assert "noise floor" in verdict.message


def test_real_drift_on_large_samples_fails_with_the_numbers() -> None:
    reference, current = RNG.normal(size=20_000), RNG.normal(loc=0.5, size=20_000)
    verdict = drift_gate(CLICKS, list(reference), list(current), max_psi=0.2, bins=10)
    assert verdict.verdict is Verdict.FAIL
    assert verdict.value is not None
    assert verdict.value > 0.2
    assert verdict.message.startswith("clicks_7d: PSI ")


def test_a_feature_nothing_serves_yet_is_named_inconclusive_for_drift() -> None:
    verdict = drift_not_judged(CLICKS, "no serving inputs in the online store")
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert verdict.reason == GateReason.NO_SERVING_INPUTS
    assert "no serving inputs" in verdict.message
    assert blocking([verdict]) == []


def test_drift_names_what_it_compared() -> None:
    sample = list(RNG.normal(size=2_000))
    verdict = drift_gate(
        CLICKS, sample, sample, max_psi=0.2, bins=10, compared="training vs serving inputs"
    )
    assert verdict.message.endswith(", training vs serving inputs")


def test_drift_watches_the_features_the_model_leans_on_most() -> None:
    importances = {"age": 0.01, "clicks_7d": 0.30, "country": 0.30, "tenure": 0.12}
    assert most_important(importances, 3) == ["clicks_7d", "country", "tenure"]


V1 = Reference("churn-v1", 0.802)


@pytest.mark.parametrize(
    ("candidate", "reference", "verdict", "reason"),
    [
        (0.801, V1, Verdict.PASS, "MetricHolds"),
        (0.798, V1, Verdict.FAIL, "MetricRegressed"),
        (0.90, NO_REFERENCE, Verdict.PASS, "FloorMet"),
        (0.65, NO_REFERENCE, Verdict.FAIL, "BelowFloor"),
        (0.65, V1, Verdict.FAIL, "BelowFloor"),
        (
            0.90,
            Reference("churn-v1", None, "it lacks tenure"),
            Verdict.INCONCLUSIVE,
            "ReferenceUnscored",
        ),
    ],
    ids=["within-epsilon", "regressed", "first-model", "below-floor", "floor-first", "unscored"],
)
def test_metric_gate(candidate: float, reference: Reference, verdict: Verdict, reason: str) -> None:
    result = metric_gate("auc", candidate, reference, max_regression=0.003, min_value=0.7)
    assert (result.verdict, result.reason) == (verdict, reason)


def test_the_metric_gate_names_its_reference_and_the_holdout() -> None:
    held = metric_gate("auc", 0.83, Reference("churn-v1", 0.81), max_regression=0.01, min_value=0.7)
    assert held.message == "auc 0.8300 vs churn-v1 0.8100 on the same holdout: within 0.0100"


def test_a_first_model_says_it_was_judged_on_the_floor() -> None:
    first = metric_gate("auc", 0.83, NO_REFERENCE, max_regression=0.01, min_value=0.7)
    assert first.message == "auc 0.8300; no reference: absolute floor 0.7000"
    bare = metric_gate("auc", 0.83, NO_REFERENCE, max_regression=0.01, min_value=None)
    assert (bare.reason, bare.message) == (
        GateReason.NO_PRODUCTION_MODEL,
        "auc 0.8300; no reference and no absolute floor to judge it by",
    )


def test_lower_is_better_metrics_regress_upwards() -> None:
    worse = metric_gate(
        "logLoss",
        0.45,
        Reference("churn-v1", 0.40),
        max_regression=0.01,
        min_value=None,
        higher_is_better=False,
    )
    assert worse.verdict is Verdict.FAIL
    assert worse.value == pytest.approx(0.05)


def _slice(name: str, candidate: float, reference: Reference, support: int) -> GateVerdict:
    return slice_gate(
        name,
        "auc",
        candidate,
        reference=reference,
        support=support,
        min_support=200,
        max_regression=0.01,
    )


def test_a_regressed_slice_is_named_and_a_thin_slice_is_not_judged() -> None:
    held = _slice("new_users", 0.70, Reference("churn-v1", 0.78), 800)
    assert (held.verdict, held.gate) == (Verdict.FAIL, "slice:new_users")
    assert "slice new_users: auc 0.7000 vs churn-v1 0.7800 on the same 800 rows" in held.message
    thin = _slice("retirees", 0.5, Reference("churn-v1", 0.9), 12)
    assert thin.verdict is Verdict.INCONCLUSIVE
    assert blocking([held, thin]) == [held]
    assert summary([held, thin]) == "0/2 passed, 1 failed, 1 inconclusive"


def test_a_first_models_slices_are_judged_on_the_floor() -> None:
    def first(value: float) -> GateVerdict:
        return slice_gate(
            "new_users",
            "auc",
            value,
            reference=NO_REFERENCE,
            support=800,
            min_support=200,
            max_regression=0.01,
            floor=0.7,
        )

    assert (first(0.72).verdict, first(0.72).reason) == (Verdict.PASS, GateReason.FLOOR_MET)
    assert (first(0.65).verdict, first(0.65).reason) == (Verdict.FAIL, GateReason.BELOW_FLOOR)
    assert "no reference: absolute floor 0.7000" in first(0.72).message


def test_golden_cases_report_each_failure() -> None:
    results = [
        GoldenResult("loyal-user-stays", score=0.1, label=0, expect_label=0),
        GoldenResult("dormant-user-churns", score=0.4, label=0, expect_score_min=0.6),
    ]
    verdict = golden_gate(results)
    assert verdict.verdict is Verdict.FAIL
    assert verdict.message == "1/2 golden cases failed: dormant-user-churns: score 0.400 < 0.600"
    assert golden_gate(results[:1]).verdict is Verdict.PASS


def test_a_relative_epsilon_is_a_fraction_of_the_references_value() -> None:
    # 1% of an RMSE of 20.0 allows 0.2: 20.15 holds, 20.3 does not (lower is better).
    one_percent = Epsilon(0.01, relative=True)
    held = metric_gate(
        "rmse",
        20.15,
        Reference("spend-v1", 20.0),
        max_regression=one_percent,
        min_value=None,
        higher_is_better=False,
    )
    assert (held.verdict, held.threshold) == (Verdict.PASS, pytest.approx(0.2))
    assert held.message.endswith("within 0.2000 (1.00% of 20.0000)")
    worse = metric_gate(
        "rmse",
        20.3,
        Reference("spend-v1", 20.0),
        max_regression=one_percent,
        min_value=None,
        higher_is_better=False,
    )
    assert worse.verdict is Verdict.FAIL
    assert "worse by 0.3000 > 0.2000 (1.00% of 20.0000)" in worse.message


def test_a_slice_gate_takes_the_relative_form_too() -> None:
    verdict = slice_gate(
        "new_users",
        "auc",
        0.78,
        reference=Reference("churn-v1", 0.80),
        support=100,
        min_support=50,
        max_regression=Epsilon(0.05, relative=True),
    )
    assert (verdict.verdict, verdict.threshold) == (Verdict.PASS, pytest.approx(0.04))


def test_the_gates_epsilon_is_in_the_form_it_was_given() -> None:
    assert epsilon(MetricGate(max_regression=0.005)) == Epsilon(0.005)
    assert epsilon(MetricGate(max_relative_regression=0.02)) == Epsilon(0.02, relative=True)


def test_a_regressors_golden_case_is_a_value_range_unbounded() -> None:
    held = golden_gate([GoldenResult("active", 312.0, None, None, 150.0, 400.0)])
    missed = golden_gate([GoldenResult("active", 90.0, None, None, 150.0, 400.0)])
    assert held.verdict is Verdict.PASS
    assert missed.message == "1/1 golden cases failed: active: score 90.000 < 150.000"
