"""The report reads what each gate judged against from the verdicts `paved.core.gates` writes:
built here with those very functions, so a change of their wording fails here."""

from __future__ import annotations

from paved.api.feature_view import DataType
from paved.core.feature_views import FeatureDefinition
from paved.core.gates import (
    NO_REFERENCE,
    GateVerdict,
    Reference,
    Verdict,
    drift_gate,
    drift_not_judged,
    metric_gate,
    slice_gate,
)
from paved_local.demo.judgements import judgement, serving_reference
from paved_local.demo.record import GateResult

CLICKS = FeatureDefinition("clicks_7d", DataType.FLOAT64)


def _recorded(verdict: GateVerdict) -> GateResult:
    """As the demo records it from the ModelVersion's status."""
    return GateResult(
        model_version="churn-v2",
        gate=verdict.gate,
        passed={Verdict.PASS: True, Verdict.FAIL: False}.get(verdict.verdict),
        message=verdict.message,
        value=verdict.value,
        threshold=verdict.threshold,
    )


def test_a_metric_against_the_model_serving_names_it_and_the_bar() -> None:
    verdict = metric_gate(
        "auc",
        0.81,
        Reference("churn-v1", 0.70),
        max_regression=0.005,
        min_value=0.65,
    )

    found = judgement(_recorded(verdict), "churn-v1")

    assert found.reference == "churn-v1 on the same holdout"
    assert found.compared == "auc 0.8100 vs churn-v1 0.7000"
    assert found.threshold == "worse by at most 0.0050 (is -0.1100)"
    assert serving_reference([_recorded(verdict)]) == "churn-v1"


def test_a_slice_against_the_model_serving_on_the_same_rows() -> None:
    verdict = slice_gate(
        "new_users",
        "auc",
        0.80,
        reference=Reference("churn-v1", 0.78),
        support=94,
        min_support=50,
        max_regression=0.05,
    )

    found = judgement(_recorded(verdict), "churn-v1")

    assert found.reference == "churn-v1 on the same 94 rows"
    assert found.compared == "slice new_users: auc 0.8000 vs churn-v1 0.7800"


def test_a_first_model_is_judged_on_the_absolute_floor() -> None:
    met = _recorded(metric_gate("auc", 0.70, NO_REFERENCE, max_regression=0.005, min_value=0.65))
    past = _recorded(metric_gate("auc", 0.60, NO_REFERENCE, max_regression=0.005, min_value=0.65))

    assert judgement(met, None).reference == "no model serving: the absolute floor"
    assert judgement(met, None).threshold == "floor 0.6500"
    assert judgement(past, None).reference == "the absolute floor"
    assert serving_reference([met, past]) is None


def test_a_slice_with_too_few_rows_says_so() -> None:
    verdict = slice_gate(
        "new_users",
        "auc",
        0.8,
        reference=NO_REFERENCE,
        support=24,
        min_support=50,
        max_regression=0.05,
    )

    found = judgement(_recorded(verdict), "churn-v1")

    assert (found.reference, found.compared, found.threshold) == (
        "nothing: too few rows to judge",
        "24 rows",
        "at least 50 rows",
    )


def test_an_unscored_reference_is_named_with_why() -> None:
    verdict = metric_gate(
        "auc",
        0.81,
        Reference("churn-v1", None, "it reads plan"),
        max_regression=0.005,
        min_value=None,
    )

    assert judgement(_recorded(verdict), "churn-v1").reference == (
        "churn-v1, not scored: it reads plan"
    )
    assert serving_reference([_recorded(verdict)]) == "churn-v1"


def test_drift_is_judged_against_what_the_model_serving_is_served() -> None:
    verdict = drift_gate(
        CLICKS,
        [float(i % 10) for i in range(500)],
        [float(i % 10) for i in range(400)],
        max_psi=0.2,
        bins=10,
        compared="training vs serving inputs of 400/500 entities",
    )

    found = judgement(_recorded(verdict), "churn-v1")

    assert found.reference == (
        "serving inputs: the online store's values of 400/500 entities, as churn-v1 is served"
    )
    assert found.compared.startswith("clicks_7d: training vs serving inputs, PSI ")
    assert found.threshold.startswith("PSI at most ")


def test_drift_not_judged_says_there_was_nothing_served() -> None:
    verdict = drift_not_judged(CLICKS, "nothing serves it yet")

    assert judgement(_recorded(verdict), None).reference == "no serving inputs"


def test_drift_on_few_rows_names_the_noise_floor_as_its_bar() -> None:
    verdict = drift_gate(
        CLICKS,
        [float(i % 10) for i in range(50)],
        [float(i % 10) for i in range(40)],
        max_psi=0.2,
        bins=10,
        compared="training vs serving inputs of 40/50 entities",
    )

    assert judgement(_recorded(verdict), "churn-v1").threshold.endswith("(the noise floor)")
