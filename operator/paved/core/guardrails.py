"""Guardrails: readings judged against thresholds.

Pure: the core only judges numbers. How a built-in is queried is the serving backend's business
(each traffic router's `guardrail_queries`, beside its adapter). "No data" (nothing, or fewer
requests than `min_samples`) is its own state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from paved.api.rollout import BuiltinGuardrail, Guardrail
from paved.core.gates import psi_binned
from paved.core.rollout_steps import GuardrailState, GuardrailVerdict


def score_drift(
    baseline: Mapping[str, float], candidate: Mapping[str, float]
) -> tuple[float | None, float]:
    """PSI between two cumulative histograms keyed by `le`, and the candidate's sample count.

    None when either side has no observations: no distribution, no drift to speak of.
    """
    edges = sorted(set(baseline) & set(candidate), key=float)
    if not edges:
        return None, 0.0

    def per_bin(cumulative: Mapping[str, float]) -> list[float]:
        totals = [max(cumulative[edge], 0.0) for edge in edges]
        return [max(b - a, 0.0) for a, b in zip([0.0, *totals[:-1]], totals, strict=True)]

    expected, actual = per_bin(baseline), per_bin(candidate)
    if sum(expected) == 0 or sum(actual) == 0:
        return None, sum(actual)
    return psi_binned(expected, actual), sum(actual)


@dataclass(frozen=True)
class Measurement:
    """The numbers read for one guardrail, before they are judged."""

    value: float | None  # the candidate's
    samples: float | None  # requests the value rests on
    baseline: float | None = None  # the same measure on the baseline predictor


def name_of(rule: Guardrail) -> str:
    return rule.name or (rule.builtin.value if rule.builtin else "query")


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def evaluate(rule: Guardrail, reading: Measurement, min_samples: int) -> GuardrailVerdict:
    """PASS, BREACH (with both numbers) or NO_DATA for one guardrail's reading.

    A reading that is not a finite number is judged by policy (ADR "guardrail readings that
    are not numbers"), never passed on: NaN is no data (Prometheus's 0/0: no requests), +Inf
    breaches an upper limit and -Inf a lower one, and without a limit on its side it is no data.
    The reading's record then has no value (JSON has no NaN or Infinity) and its message says
    what was read."""
    name = name_of(rule)
    unit = "ms" if rule.builtin is BuiltinGuardrail.LATENCY_P99 else ""
    samples = None if reading.samples is None or math.isnan(reading.samples) else reading.samples
    if reading.value is None or (rule.builtin and (samples or 0) < min_samples):
        count = int(samples) if samples is not None and math.isfinite(samples) else 0
        return GuardrailVerdict(
            name, GuardrailState.NO_DATA, f"{name}: {count} requests < {min_samples} needed"
        )
    value = reading.value
    limit = rule.max_ms if rule.builtin is BuiltinGuardrail.LATENCY_P99 else rule.max
    baseline = _finite(reading.baseline)
    bound = _finite(
        baseline * rule.vs_baseline
        if rule.vs_baseline is not None and baseline is not None and baseline > 0
        else None
    )
    if not math.isfinite(value):
        return _not_a_number(name, value, upper=_tightest(limit, bound), lower=rule.min)
    # The tightest upper limit is the one shown beside the value.
    threshold = min((x for x in (limit, bound) if x is not None), default=rule.min)
    if limit is not None and value > limit:
        message = f"{name} {value:.4g}{unit} > {limit:.4g}{unit}"
        return GuardrailVerdict(name, GuardrailState.BREACH, message, value, limit)
    if rule.min is not None and value < rule.min:
        return GuardrailVerdict(
            name, GuardrailState.BREACH, f"{name} {value:.4g} < {rule.min:.4g}", value, rule.min
        )
    if bound is not None and value > bound:
        message = (
            f"{name} {value:.4g}{unit} > baseline {reading.baseline:.4g}{unit} times "
            f"{rule.vs_baseline:g}"
        )
        return GuardrailVerdict(name, GuardrailState.BREACH, message, value, bound)
    return GuardrailVerdict(
        name, GuardrailState.PASS, f"{name} {value:.4g}{unit} within limits", value, threshold
    )


def _tightest(*limits: float | None) -> float | None:
    """The lowest of the upper limits that are set."""
    return min((x for x in limits if x is not None), default=None)


def _not_a_number(
    name: str, value: float, *, upper: float | None, lower: float | None
) -> GuardrailVerdict:
    """The verdict on a NaN or infinite reading; the record keeps no value, only the message."""
    if math.isnan(value):
        message = f"{name} read NaN (no number, e.g. no requests in the window): no data"
        return GuardrailVerdict(name, GuardrailState.NO_DATA, message)
    read, limit, side = ("+Inf", upper, "above") if value > 0 else ("-Inf", lower, "below")
    if limit is None:
        message = f"{name} read {read} and has no limit on that side: no data"
        return GuardrailVerdict(name, GuardrailState.NO_DATA, message)
    message = f"{name} read {read}: {side} its limit {limit:.4g}, a breach"
    return GuardrailVerdict(name, GuardrailState.BREACH, message, None, limit)
