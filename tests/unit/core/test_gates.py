from __future__ import annotations

import numpy as np
import pytest

from paved.api.feature_view import DataType
from paved.core.feature_views import FeatureDefinition
from paved.core.gates import (
    ColumnProfile,
    GoldenResult,
    Verdict,
    blocking,
    drift_gate,
    golden_gate,
    metric_gate,
    new_feature_drift,
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


def test_a_feature_production_never_saw_is_not_judged_for_drift() -> None:
    verdict = new_feature_drift(CLICKS)
    assert verdict.verdict is Verdict.INCONCLUSIVE
    assert verdict.reason == GateReason.NEW_FEATURE
    assert blocking([verdict]) == []


@pytest.mark.parametrize(
    ("candidate", "production", "verdict", "reason"),
    [
        (0.801, 0.802, Verdict.PASS, "MetricHolds"),
        (0.798, 0.802, Verdict.FAIL, "MetricRegressed"),
        (0.90, None, Verdict.PASS, "NoProductionModel"),
        (0.65, None, Verdict.FAIL, "BelowFloor"),
    ],
    ids=["within-epsilon", "regressed", "first-model", "below-floor"],
)
def test_metric_gate(
    candidate: float, production: float | None, verdict: Verdict, reason: str
) -> None:
    result = metric_gate("auc", candidate, production, max_regression=0.003, min_value=0.7)
    assert (result.verdict, result.reason) == (verdict, reason)


def test_lower_is_better_metrics_regress_upwards() -> None:
    worse = metric_gate(
        "logLoss", 0.45, 0.40, max_regression=0.01, min_value=None, higher_is_better=False
    )
    assert worse.verdict is Verdict.FAIL
    assert worse.value == pytest.approx(0.05)


def test_a_regressed_slice_is_named_and_a_thin_slice_is_not_judged() -> None:
    held = slice_gate(
        "new_users", "auc", 0.70, production=0.78, support=800, min_support=200, max_regression=0.01
    )
    assert (held.verdict, held.gate) == (Verdict.FAIL, "slice:new_users")
    assert "slice new_users: auc 0.7000 vs production 0.7800 (800 rows)" in held.message
    thin = slice_gate(
        "retirees", "auc", 0.5, production=0.9, support=12, min_support=200, max_regression=0.01
    )
    assert thin.verdict is Verdict.INCONCLUSIVE
    assert blocking([held, thin]) == [held]
    assert summary([held, thin]) == "0/2 passed, 1 failed"


def test_golden_cases_report_each_failure() -> None:
    results = [
        GoldenResult("loyal-user-stays", score=0.1, label=0, expect_label=0),
        GoldenResult("dormant-user-churns", score=0.4, label=0, expect_score_min=0.6),
    ]
    verdict = golden_gate(results)
    assert verdict.verdict is Verdict.FAIL
    assert verdict.message == "1/2 golden cases failed: dormant-user-churns: score 0.400 < 0.600"
    assert golden_gate(results[:1]).verdict is Verdict.PASS
