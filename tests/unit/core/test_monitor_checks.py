"""A ModelMonitor's checks, judged: the gates' PSI against histograms kept in status, its noise
floor, a sample floor that makes a check Unknown (never a pass), and the guardrails."""

from __future__ import annotations

import numpy as np
import pytest

from paved.api.feature_view import DataType
from paved.api.model_monitor import (
    Histogram,
    InputDrift,
    ModelMonitorSpec,
    PredictionDrift,
    References,
)
from paved.core.feature_views import FeatureDefinition
from paved.core.gates import Value, psi_categorical, psi_numeric
from paved.core.monitor_checks import (
    MAX_CATEGORIES,
    Check,
    CheckState,
    LoggedWindow,
    drift,
    drift_verdicts,
    guardrails,
    histogram,
    input_drift,
    judged_features,
    output_reference,
    prediction_drift,
)
from paved.core.reasons import MonitorReason as Reason
from paved.core.rollout_steps import GuardrailState, GuardrailVerdict

RNG_SEED = 19
TRAINING_ROWS = 5000
DRIFT = InputDrift(max_psi=0.2)


Column = list[Value]


def _training(rng: np.random.Generator) -> dict[str, Column]:
    return {
        "clicks_7d": rng.gamma(2.0, 10.0, TRAINING_ROWS).tolist(),
        "country": rng.choice(["DE", "FR", "US"], TRAINING_ROWS, p=[0.5, 0.3, 0.2]).tolist(),
    }


def _references(training: dict[str, Column]) -> list[Histogram]:
    return [
        histogram("clicks_7d", training["clicks_7d"], numeric=True, bins=10),
        histogram("country", training["country"], numeric=False, bins=10),
    ]


def _window(rng: np.random.Generator, rows: int, *, shift: float = 0.0) -> dict[str, Column]:
    return {
        "clicks_7d": (rng.gamma(2.0, 10.0, rows) + shift).tolist(),
        "country": rng.choice(["DE", "FR", "US"], rows, p=[0.5, 0.3, 0.2]).tolist(),
    }


def test_psi_against_a_kept_histogram_is_the_gates_psi() -> None:
    rng = np.random.default_rng(RNG_SEED)
    training, current = _training(rng), _window(rng, 400, shift=5.0)
    numeric, categorical = _references(training)
    assert drift(numeric, current["clicks_7d"], max_psi=0.2).psi == pytest.approx(
        psi_numeric(
            np.asarray(training["clicks_7d"], dtype=float),
            np.asarray(current["clicks_7d"], dtype=float),
            10,
        )
    )
    assert drift(categorical, current["country"], max_psi=0.2).psi == pytest.approx(
        psi_categorical(training["country"], current["country"])
    )


def test_a_stable_world_raises_no_alarm_over_a_long_run() -> None:
    rng = np.random.default_rng(RNG_SEED)
    references = _references(_training(rng))
    verdicts = [
        input_drift(references, _window(rng, 300), spec=DRIFT, samples=300) for _ in range(200)
    ]
    assert [v.state for v in verdicts].count(CheckState.ALARM) == 0
    assert all(v.reason is Reason.NO_DRIFT for v in verdicts)


def test_on_small_windows_the_noise_floor_keeps_a_stable_world_mostly_quiet() -> None:
    """With 60 predictions a window, PSI of an unchanged world tops a fixed 0.2 in about a third
    of the windows; the gates' noise floor lifts the threshold and cuts that tenfold. (Below
    about 100 the floor's chi-squared approximation under-covers: empty bins make PSI jump, so
    `minSamples` defaults to 200, where 1000 stable windows raised no alarm.)"""
    rng = np.random.default_rng(RNG_SEED)
    references = _references(_training(rng))
    verdicts = [
        input_drift(references, _window(rng, 60), spec=DRIFT, samples=60) for _ in range(300)
    ]
    above_fixed = sum(any(d.psi > 0.2 for d in v.drift) for v in verdicts)
    alarms = sum(v.state is CheckState.ALARM for v in verdicts)
    assert above_fixed > 60  # without the floor, each of these would be a false alarm
    assert alarms <= 15


def test_a_drifted_feature_alarms_and_is_named() -> None:
    rng = np.random.default_rng(RNG_SEED)
    references = _references(_training(rng))
    verdict = input_drift(references, _window(rng, 500, shift=25.0), spec=DRIFT, samples=500)
    assert (verdict.check, verdict.state, verdict.reason) == (
        Check.INPUT_DRIFT,
        CheckState.ALARM,
        Reason.DRIFT_DETECTED,
    )
    assert verdict.message.startswith("1 of 2 features drifted (500 logged predictions): clicks_7d")
    assert verdict.observation().status == "True"
    (drifted,) = [d for d in verdict.drift if d.drifted]
    assert drifted.feature == "clicks_7d"
    assert verdict.value == drifted.psi > 0.2


def test_a_category_that_shifts_alarms() -> None:
    rng = np.random.default_rng(RNG_SEED)
    references = _references(_training(rng))
    window = _window(rng, 500)
    window["country"] = rng.choice(["DE", "FR", "US", "BR"], 500, p=[0.1, 0.1, 0.2, 0.6]).tolist()
    verdict = input_drift(references, window, spec=DRIFT, samples=500)
    assert verdict.state is CheckState.ALARM
    assert "country PSI" in verdict.message


def test_a_feature_the_requests_never_carry_counts_as_missing_and_alarms() -> None:
    rng = np.random.default_rng(RNG_SEED)
    references = _references(_training(rng))
    window = _window(rng, 500)
    del window["country"]
    assert input_drift(references, window, spec=DRIFT, samples=500).state is CheckState.ALARM


def test_below_the_sample_floor_a_check_is_unknown_never_a_pass() -> None:
    spec = ModelMonitorSpec.model_validate(
        {
            "model": "churn",
            "target": {"seldonDeployment": {"name": "churn"}},
            "minSamples": 200,
            "inputDrift": {},
            "predictionDrift": {},
        }
    )
    rng = np.random.default_rng(RNG_SEED)
    references = References.model_validate(
        {
            "version": "3",
            "features": _references(_training(rng)),
            "computedAt": "2026-12-05T10:00:00Z",
        }
    )
    logged = LoggedWindow(scores=[0.5] * 150, inputs=_window(rng, 150, shift=25.0))
    verdicts = drift_verdicts(spec, references, logged)
    assert [(v.check, v.state, v.reason) for v in verdicts] == [
        (Check.INPUT_DRIFT, CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES),
        (Check.PREDICTION_DRIFT, CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES),
    ]
    assert verdicts[0].message == "150 logged predictions in the last 1h < 200 needed."
    assert verdicts[0].observation().status == "Unknown"


def test_prediction_drift_without_scores_before_promotion_is_unknown() -> None:
    verdict = prediction_drift(None, [0.1] * 500, spec=PredictionDrift())
    assert (verdict.state, verdict.reason) == (CheckState.UNKNOWN, Reason.NO_REFERENCE)


def test_prediction_drift_compares_scores_with_those_before_promotion() -> None:
    rng = np.random.default_rng(RNG_SEED)
    before = histogram("score", rng.beta(2, 5, 2000).tolist(), numeric=True, bins=10)
    same = prediction_drift(before, rng.beta(2, 5, 500).tolist(), spec=PredictionDrift())
    moved = prediction_drift(before, rng.beta(5, 2, 500).tolist(), spec=PredictionDrift())
    assert (same.state, moved.state) == (CheckState.OK, CheckState.ALARM)
    assert moved.message.startswith("score PSI ")


def test_a_multiclass_models_prediction_drift_is_its_mix_of_predicted_classes() -> None:
    rng = np.random.default_rng(RNG_SEED)
    classes = ["t:0", "t:1", "t:2"]

    def window(mix: list[float], rows: int) -> LoggedWindow:
        predicted = rng.choice(classes, size=rows, p=mix).tolist()
        return LoggedWindow(scores=[0.8] * rows, predicted_classes=predicted)

    before = output_reference(window([0.6, 0.3, 0.1], 2000), bins=10)
    same = prediction_drift(before, window([0.6, 0.3, 0.1], 500).outputs(), spec=PredictionDrift())
    # One class takes another's share while the confidence stays where it was.
    moved = prediction_drift(before, window([0.3, 0.6, 0.1], 500).outputs(), spec=PredictionDrift())

    assert before.categories == classes
    assert (same.state, moved.state) == (CheckState.OK, CheckState.ALARM)
    assert moved.message.startswith("predicted class PSI ")


@pytest.mark.parametrize(
    ("states", "expected", "reason"),
    [
        ([GuardrailState.PASS, GuardrailState.PASS], CheckState.OK, Reason.GUARDRAILS_HOLD),
        ([GuardrailState.PASS, GuardrailState.BREACH], CheckState.ALARM, Reason.GUARDRAIL_BREACHED),
        ([GuardrailState.PASS, GuardrailState.NO_DATA], CheckState.UNKNOWN, Reason.TOO_FEW_SAMPLES),
        (
            [GuardrailState.NO_DATA, GuardrailState.BREACH],
            CheckState.ALARM,
            Reason.GUARDRAIL_BREACHED,
        ),
    ],
)
def test_guardrails_alarm_on_a_breach_and_are_unknown_without_data(
    states: list[GuardrailState], expected: CheckState, reason: Reason
) -> None:
    verdicts = [GuardrailVerdict(f"g{n}", state, f"g{n} {state}") for n, state in enumerate(states)]
    verdict = guardrails(verdicts)
    assert (verdict.check, verdict.state, verdict.reason) == (Check.GUARDRAILS, expected, reason)


def test_input_drift_judges_the_trained_features_but_timestamps() -> None:
    trained = {
        "clicks_7d": FeatureDefinition("clicks_7d", DataType.FLOAT64),
        "country": FeatureDefinition("country", DataType.STRING),
        "last_seen": FeatureDefinition("last_seen", DataType.TIMESTAMP),
    }
    assert judged_features(trained, []) == {"clicks_7d": True, "country": False}
    assert judged_features(trained, ["country"]) == {"country": False}
    with pytest.raises(ValueError, match=r"inputDrift\.features: tenure is not a feature"):
        judged_features(trained, ["tenure"])


def test_a_high_cardinality_feature_keeps_its_most_frequent_categories() -> None:
    values: list[Value] = [f"sku-{n}" for n in range(500)] + ["sku-7"] * 50
    reference = histogram("sku", values, numeric=False, bins=10)
    assert len(reference.categories) == MAX_CATEGORIES
    assert "sku-7" in reference.categories
    assert reference.counts[-2] == 500 - MAX_CATEGORIES  # the rest share the "other" bin
    assert drift(reference, values, max_psi=0.2).psi == pytest.approx(0.0, abs=1e-9)
