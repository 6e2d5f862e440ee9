from __future__ import annotations

import pytest

from paved.api.rollout import BuiltinGuardrail, Guardrail
from paved.core.guardrails import Reading, builtin_queries, evaluate, score_drift
from paved.core.rollout_steps import GuardrailState

ERRORS = Guardrail(builtin=BuiltinGuardrail.ERROR_RATE, max=0.01, vs_baseline=1.5)
LATENCY = Guardrail(builtin=BuiltinGuardrail.LATENCY_P99, max_ms=200)
DRIFT = Guardrail(name="score-drift", query="abs(x)", max=0.2)


def test_builtins_read_seldons_executor_metric_per_predictor() -> None:
    queries = builtin_queries(BuiltinGuardrail.ERROR_RATE, "ml", "churn", "candidate", "1m")
    assert (
        'seldon_api_executor_server_requests_seconds_count{namespace="ml",deployment_name="churn",'
        in queries.value
    )
    assert 'predictor_name="candidate",service="predictions",code!~"200|OK"}[1m]' in queries.value
    assert queries.samples.startswith(
        "sum(increase(seldon_api_executor_server_requests_seconds_count"
    )
    latency = builtin_queries(BuiltinGuardrail.LATENCY_P99, "ml", "churn", "candidate", "1m")
    assert latency.value.startswith("histogram_quantile(0.99, sum by (le)")


@pytest.mark.parametrize(
    ("rule", "reading", "state", "message"),
    [
        (ERRORS, Reading(0.004, 500, 0.004), GuardrailState.PASS, "errorRate 0.004 within limits"),
        (ERRORS, Reading(0.02, 500, 0.001), GuardrailState.BREACH, "errorRate 0.02 > 0.01"),
        (ERRORS, Reading(0.008, 500, 0.002), GuardrailState.BREACH,
         "errorRate 0.008 > baseline 0.002 times 1.5"),
        (ERRORS, Reading(None, None), GuardrailState.NO_DATA, "errorRate: 0 requests < 50 needed"),
        (ERRORS, Reading(0.5, 12), GuardrailState.NO_DATA, "errorRate: 12 requests < 50 needed"),
        (LATENCY, Reading(250.0, 900), GuardrailState.BREACH, "latencyP99 250ms > 200ms"),
        (DRIFT, Reading(0.1, None), GuardrailState.PASS, "score-drift 0.1 within limits"),
        (DRIFT, Reading(0.3, None), GuardrailState.BREACH, "score-drift 0.3 > 0.2"),
    ],
    ids=["within", "absolute-breach", "relative-breach", "no-data", "too-few-samples",
         "latency-breach", "query-within", "query-breach"],
)  # fmt: skip
def test_a_reading_is_judged_with_its_numbers(
    rule: Guardrail, reading: Reading, state: GuardrailState, message: str
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
    verdict = evaluate(SCORE_DRIFT, Reading(shifted, 100), min_samples=50)
    assert verdict.state is GuardrailState.BREACH
    assert verdict.threshold == 0.2


def test_score_drift_without_scores_on_either_side_is_no_data() -> None:
    assert score_drift({}, _cumulative([1, 2])) == (None, 0.0)
    drift, samples = score_drift(_cumulative([0, 0]), _cumulative([3, 1]))
    assert drift is None
    assert evaluate(SCORE_DRIFT, Reading(drift, samples), 50).state is GuardrailState.NO_DATA
