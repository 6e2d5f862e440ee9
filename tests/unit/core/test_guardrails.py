from __future__ import annotations

import math

import pytest

from paved.api.rollout import BuiltinGuardrail, Guardrail
from paved.core.guardrails import Measurement, evaluate, score_drift
from paved.core.rollout_steps import GuardrailState

ERRORS = Guardrail(builtin=BuiltinGuardrail.ERROR_RATE, max=0.01, vs_baseline=1.5)
LATENCY = Guardrail(builtin=BuiltinGuardrail.LATENCY_P99, max_ms=200)
DRIFT = Guardrail(name="score-drift", query="abs(x)", max=0.2)


@pytest.mark.parametrize(
    ("rule", "reading", "state", "message"),
    [
        (
            ERRORS,
            Measurement(0.004, 500, 0.004),
            GuardrailState.PASS,
            "errorRate 0.004 within limits",
        ),
        (ERRORS, Measurement(0.02, 500, 0.001), GuardrailState.BREACH, "errorRate 0.02 > 0.01"),
        (
            ERRORS,
            Measurement(0.008, 500, 0.002),
            GuardrailState.BREACH,
            "errorRate 0.008 > baseline 0.002 times 1.5",
        ),
        (
            ERRORS,
            Measurement(None, None),
            GuardrailState.NO_DATA,
            "errorRate: 0 requests < 50 needed",
        ),
        (
            ERRORS,
            Measurement(0.5, 12),
            GuardrailState.NO_DATA,
            "errorRate: 12 requests < 50 needed",
        ),
        (LATENCY, Measurement(250.0, 900), GuardrailState.BREACH, "latencyP99 250ms > 200ms"),
        (DRIFT, Measurement(0.1, None), GuardrailState.PASS, "score-drift 0.1 within limits"),
        (DRIFT, Measurement(0.3, None), GuardrailState.BREACH, "score-drift 0.3 > 0.2"),
    ],
    ids=[
        "within",
        "absolute-breach",
        "relative-breach",
        "no-data",
        "too-few-samples",
        "latency-breach",
        "query-within",
        "query-breach",
    ],
)
def test_a_reading_is_judged_with_its_numbers(
    rule: Guardrail, reading: Measurement, state: GuardrailState, message: str
) -> None:
    verdict = evaluate(rule, reading, min_samples=50)
    assert (verdict.state, verdict.message) == (state, message)


SCORE_DRIFT = Guardrail(builtin=BuiltinGuardrail.SCORE_DRIFT, max=0.2)


def _cumulative(counts: list[float]) -> dict[str, float]:
    edges = [f"{0.1 * (k + 1):.1f}" for k in range(len(counts) - 1)] + ["+Inf"]
    running, cumulative = 0.0, {}
    for edge, count in zip(edges, counts, strict=True):
        running += count
        cumulative[edge] = running
    return cumulative


def test_score_drift_is_the_psi_between_the_two_score_histograms() -> None:
    baseline = _cumulative([10, 20, 40, 20, 10, 0, 0, 0, 0, 0, 0])
    same, samples = score_drift(baseline, _cumulative([5, 10, 20, 10, 5, 0, 0, 0, 0, 0, 0]))
    assert same == pytest.approx(0.0, abs=1e-9)
    assert samples == 50
    shifted, _ = score_drift(baseline, _cumulative([0, 0, 0, 0, 10, 20, 40, 20, 10, 0, 0]))
    assert shifted is not None
    assert shifted > 1.0
    verdict = evaluate(SCORE_DRIFT, Measurement(shifted, 100), min_samples=50)
    assert verdict.state is GuardrailState.BREACH
    assert verdict.threshold == 0.2


def test_score_drift_without_scores_on_either_side_is_no_data() -> None:
    assert score_drift({}, _cumulative([1, 2])) == (None, 0.0)
    drift, samples = score_drift(_cumulative([0, 0]), _cumulative([3, 1]))
    assert drift is None
    assert evaluate(SCORE_DRIFT, Measurement(drift, samples), 50).state is GuardrailState.NO_DATA


UPPER_AND_LOWER = Guardrail(name="conversion", query="rate(x)", min=0.1, max=0.9)
LOWER_ONLY = Guardrail(name="conversion", query="rate(x)", min=0.1)
INF, NAN = float("inf"), float("nan")


@pytest.mark.parametrize(
    ("rule", "reading", "state", "threshold", "message"),
    [
        (
            ERRORS,
            Measurement(INF, 500, 0.004),
            GuardrailState.BREACH,
            0.006,
            "errorRate read +Inf: above its limit 0.006, a breach",
        ),
        (
            ERRORS,
            Measurement(NAN, 500),
            GuardrailState.NO_DATA,
            None,
            "errorRate read NaN (no number, e.g. no requests in the window): no data",
        ),
        (
            UPPER_AND_LOWER,
            Measurement(-INF, None),
            GuardrailState.BREACH,
            0.1,
            "conversion read -Inf: below its limit 0.1, a breach",
        ),
        (
            LOWER_ONLY,
            Measurement(INF, None),
            GuardrailState.NO_DATA,
            None,
            "conversion read +Inf and has no limit on that side: no data",
        ),
        (
            ERRORS,
            Measurement(0.5, NAN),
            GuardrailState.NO_DATA,
            None,
            "errorRate: 0 requests < 50 needed",
        ),
        (
            ERRORS,
            Measurement(0.5, -INF),
            GuardrailState.NO_DATA,
            None,
            "errorRate: 0 requests < 50 needed",
        ),
        (
            ERRORS,
            Measurement(0.005, 500, INF),
            GuardrailState.PASS,
            0.01,
            "errorRate 0.005 within limits",
        ),
    ],
    ids=[
        "+inf-breaches-the-upper-limit",
        "nan-is-no-data",
        "-inf-breaches-the-lower-limit",
        "+inf-without-an-upper-limit-is-no-data",
        "nan-samples-are-none",
        "negative-infinite-samples-are-none",
        "an-infinite-baseline-is-no-baseline",
    ],
)
def test_a_reading_that_is_not_a_number_is_a_verdict_by_policy_with_no_value(
    rule: Guardrail,
    reading: Measurement,
    state: GuardrailState,
    threshold: float | None,
    message: str,
) -> None:
    verdict = evaluate(rule, reading, min_samples=50)
    assert (verdict.state, verdict.message) == (state, message)
    assert verdict.value is None or math.isfinite(verdict.value)
    assert verdict.threshold == (pytest.approx(threshold) if threshold is not None else None)
