"""Rollout: move a candidate ModelVersion onto a serving backend step by step, on evidence.

Steps are single-key objects, as in Argo Rollouts, so the YAML stays flat:
`- shadow: {duration: 10m}`, `- canary: {weight: 5, duration: 10m}`, `- abTest: {...}`,
`- interleave: {...}`, `- pause: {}`, `- full: {}`. The step position lives in status, never
inferred.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum

from pydantic import Field, model_validator

from paved.api.meta import (
    Duration,
    Message,
    Model,
    ObjectName,
    PositiveDuration,
    PositiveGoDuration,
    PrometheusRange,
    RecordedName,
    ShortText,
    Status,
    cel,
    section,
    validated,
)

# The smallest minimum detectable effect an A/B test may look for. At a rate of 0.5 (the
# widest variance) an MDE of 0.001 needs about 3.9 million trials per arm (alpha 0.05, power
# 0.8); smaller effects need sample sizes no rollout reaches, and ever smaller ones overflow.
MIN_DETECTABLE_EFFECT = 0.001
# An interleave step's preference (win rate minus 0.5): below the least, no rollout gets the
# queries; at the most a Beta prior about 0.5 would have no spread left (core/interleaving.py).
MIN_DETECTABLE_PREFERENCE = 0.005
MAX_DETECTABLE_PREFERENCE = 0.45
_METRIC_NAME = r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"


class ShadowStep(Model):
    duration: PositiveGoDuration = Field(
        description="How long the candidate gets mirrored traffic."
    )


class CanaryStep(Model):
    weight: int = Field(ge=0, le=100, description="Percent of live traffic to the candidate.")
    duration: PositiveGoDuration = Field(
        description="How long to hold this weight with guardrails green."
    )


class OutcomeAction(StrEnum):
    PROMOTE = "promote"
    ROLL_BACK = "rollBack"
    PAUSE = "pause"


class AbPolicy(Model):
    win: OutcomeAction = OutcomeAction.PROMOTE
    no_difference: OutcomeAction = OutcomeAction.PAUSE
    loss: OutcomeAction = OutcomeAction.ROLL_BACK


class SequentialTest(Model):
    """What the A/B and interleave steps share: a sequential test's error rates, its horizon,
    and what its outcome does."""

    alpha: float = Field(default=0.05, gt=0, lt=0.5)
    power: float = Field(default=0.8, gt=0.5, lt=1)
    max_duration: PositiveDuration = Field(
        default="1h",
        description=(
            "The horizon: when it passes, the test ends with the evidence so far (no effect"
            " shown is noDifference, even short of the sample size)."
        ),
    )
    policy: AbPolicy = section(AbPolicy)


class AbTestStep(SequentialTest):
    weight: int = Field(default=50, ge=1, le=99, description="Percent of traffic to the candidate.")
    metric: str = Field(
        default="seldon_api_model_feedback_reward_total",
        min_length=1,
        max_length=256,
        pattern=_METRIC_NAME,
        description=(
            "The business metric's successes: a Prometheus counter labelled per arm as the"
            " backend labels them (`predictor_name` on Seldon, `revision_name` on KServe). By"
            " default Seldon's summed feedback reward, which needs a backend with feedback."
        ),
    )
    trials: str = Field(
        default="seldon_api_model_feedback_total",
        min_length=1,
        max_length=256,
        pattern=_METRIC_NAME,
        description="The counter of trials the successes are out of (by default Seldon's "
        "feedback count).",
    )
    minimum_detectable_effect: float = Field(
        ge=MIN_DETECTABLE_EFFECT,
        le=1,
        description=(
            "Smallest absolute difference in the metric's rate worth finding (at least 0.001:"
            " smaller ones need more trials than any rollout gets)."
        ),
    )


class InterleaveStep(SequentialTest):
    """Rankers judged by the users' clicks: every ranking request gets the team-draft merge of
    both arms' rankings, and each query is won by the arm whose items got more clicks. The
    requests that are not rankings are split by `weight`, as an abTest's are."""

    weight: int = Field(default=50, ge=1, le=99, description="Percent of other requests.")
    minimum_detectable_preference: float = Field(
        ge=MIN_DETECTABLE_PREFERENCE,
        le=MAX_DETECTABLE_PREFERENCE,
        description=(
            "Smallest preference worth finding: the candidate's share of the decided (untied)"
            " queries minus 0.5."
        ),
    )


class PauseStep(Model):
    duration: PositiveDuration | None = Field(
        default=None, description="Resume after this long; without it, wait for a person."
    )


class FullStep(Model):
    """Promote: the candidate takes all traffic and becomes the production model version."""


class Step(Model):
    model_config = validated(
        cel(
            "[has(self.shadow), has(self.canary), has(self.abTest), has(self.interleave),"
            " has(self.pause), has(self.full)].filter(k, k).size() == 1",
            "a step has exactly one kind: shadow, canary, abTest, interleave, pause or full",
        )
    )

    shadow: ShadowStep | None = None
    canary: CanaryStep | None = None
    ab_test: AbTestStep | None = None
    interleave: InterleaveStep | None = None
    pause: PauseStep | None = None
    full: FullStep | None = None


class BuiltinGuardrail(StrEnum):
    ERROR_RATE = "errorRate"
    LATENCY_P99 = "latencyP99"
    # PSI of the candidate's (or, while shadowing, the shadow's) score distribution against the
    # baseline's, from the serving layer's `paved_prediction_score` histogram.
    SCORE_DRIFT = "scoreDrift"


class Guardrail(Model):
    model_config = validated(
        cel(
            "has(self.builtin) != has(self.query)",
            "a guardrail has exactly one of builtin or query",
        ),
        cel(
            "!has(self.builtin) || self.builtin != 'errorRate' || has(self.max)"
            " || has(self.vsBaseline)",
            "the errorRate guardrail needs max or vsBaseline",
        ),
        cel(
            "!has(self.builtin) || self.builtin != 'latencyP99' || has(self.maxMs)"
            " || has(self.vsBaseline)",
            "the latencyP99 guardrail needs maxMs or vsBaseline",
        ),
        cel(
            "!has(self.query) || has(self.max) || has(self.min)",
            "a query guardrail needs max or min",
        ),
        cel("!has(self.maxMs) || self.builtin == 'latencyP99'", "maxMs is for latencyP99 only"),
        cel(
            "!has(self.builtin) || self.builtin != 'scoreDrift' || (has(self.max)"
            " && !has(self.vsBaseline))",
            "the scoreDrift guardrail needs max (a PSI), and is against the baseline already",
        ),
    )

    name: str | None = Field(
        default=None, max_length=63, description="Shown in status; defaults to builtin."
    )
    builtin: BuiltinGuardrail | None = None
    query: str | None = Field(
        default=None,
        min_length=1,
        max_length=4096,
        description="PromQL returning one number for the candidate.",
    )
    max: float | None = Field(default=None, description="Breach above this.")
    min: float | None = Field(default=None, description="Breach below this.")
    max_ms: float | None = Field(default=None, gt=0, description="p99 latency limit, in ms.")
    vs_baseline: float | None = Field(
        default=None, ge=1, description="Breach when the candidate exceeds baseline times this."
    )


class NoDataPolicy(StrEnum):
    """What to do when a guardrail has no data or too few samples for a verdict."""

    WAIT = "wait"
    PAUSE = "pause"
    ROLL_BACK = "rollBack"


class Analysis(Model):
    interval: PositiveDuration = Field(default="30s")
    window: PrometheusRange = Field(default="1m", description="The range each reading covers.")
    failure_limit: int = Field(
        default=0, ge=0, description="Breaches tolerated; one more rolls back."
    )
    min_samples: int = Field(
        default=50, ge=1, description="Requests a reading needs before it gives a verdict."
    )
    on_no_data: NoDataPolicy = NoDataPolicy.WAIT
    max_no_data: Duration = Field(
        default="10m", description="How long 'no data' may last before on_no_data applies."
    )


class SeldonDeploymentTarget(Model):
    """A Seldon Core v1 SeldonDeployment: candidate and shadow are predictors beside baseline."""

    model_config = validated(
        cel(
            "self.candidatePredictor != self.baselinePredictor"
            " && self.shadowPredictor != self.baselinePredictor"
            " && self.shadowPredictor != self.candidatePredictor",
            "the baseline, candidate and shadow predictors must have three different names",
        )
    )

    name: ObjectName = Field(description="The SeldonDeployment, in the Rollout's namespace.")
    baseline_predictor: ObjectName = "baseline"
    candidate_predictor: ObjectName = "candidate"
    shadow_predictor: ObjectName = "shadow"


class InferenceServiceTarget(Model):
    """A KServe InferenceService: the candidate is its latest revision at canaryTrafficPercent."""

    name: ObjectName = Field(description="The InferenceService, in the Rollout's namespace.")


class Backend(StrEnum):
    """The serving backends a Rollout can move traffic on: one per key of `spec.target`."""

    SELDON_DEPLOYMENT = "SeldonDeployment"
    INFERENCE_SERVICE = "InferenceService"


class Target(Model):
    """Where the candidate is served: exactly one serving backend's object."""

    model_config = validated(
        cel(
            "[has(self.seldonDeployment), has(self.inferenceService)].filter(k, k).size() == 1",
            "a target is exactly one of seldonDeployment or inferenceService",
        )
    )

    seldon_deployment: SeldonDeploymentTarget | None = None
    inference_service: InferenceServiceTarget | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Target:
        if (self.seldon_deployment is None) == (self.inference_service is None):
            raise ValueError("a target is exactly one of seldonDeployment or inferenceService")
        return self

    @property
    def backend(self) -> Backend:
        if self.seldon_deployment is not None:
            return Backend.SELDON_DEPLOYMENT
        return Backend.INFERENCE_SERVICE

    @property
    def name(self) -> str:
        """The serving object's name (one Rollout at a time moves its traffic)."""
        chosen = self.seldon_deployment or self.inference_service
        assert chosen is not None  # exactly one, checked above
        return chosen.name


class RolloutSpec(Model):
    # Cheap to say at admission; the operator refuses the same before any traffic moves
    # (`paved.core.serving`), for what only the router knows.
    model_config = validated(
        cel(
            "!has(self.target.inferenceService) || !self.steps.exists(s, has(s.shadow))",
            "a shadow step needs mirroring, which an InferenceService (KServe) does not offer",
        ),
        cel(
            "!has(self.target.inferenceService) || !self.steps.exists(s, has(s.interleave))",
            "an interleave step needs paved's data plane to merge both arms' rankings, which an"
            " InferenceService (KServe) does not offer",
        ),
    )

    candidate: ObjectName = Field(description="The ModelVersion to roll out.")
    baseline: ObjectName | None = Field(
        default=None, description="The ModelVersion serving now; default: the model's production."
    )
    target: Target = Field(description="The serving object whose traffic moves.")
    steps: list[Step] = Field(
        min_length=1,
        max_length=32,
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "self.filter(s, has(s.shadow) || has(s.canary) || has(s.abTest)"
                    " || has(s.interleave)).map(s, has(s.canary) ? s.canary.weight"
                    " : has(s.abTest) ? s.abTest.weight"
                    " : has(s.interleave) ? s.interleave.weight : 0).isSorted()",
                    "candidate traffic never falls from one step to the next: canary, abTest and"
                    " interleave weights never decrease, and no shadow step follows any",
                ),
                cel(
                    "self.filter(s, has(s.full)).size() <= 1"
                    " && (!self.exists(s, has(s.full)) || has(self[size(self) - 1].full))",
                    "full is the last step, and there is at most one",
                ),
            ]
        },
    )
    guardrails: list[Guardrail] = Field(default_factory=list, max_length=32)
    analysis: Analysis = section(Analysis)


class RolloutPhase(StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    FAILED = "Failed"


class TrafficSplit(Model):
    baseline: int = Field(ge=0, le=100)
    candidate: int = Field(ge=0, le=100)
    shadow: bool = False
    interleaved: bool | None = Field(
        default=None, description="True while ranking requests get both arms' rankings merged."
    )


class GuardrailResult(Model):
    # One guardrail's last reading, judged, as the status records it.
    guardrail: RecordedName
    value: float | None = Field(
        default=None, description="Empty when the reading was not a finite number."
    )
    threshold: float | None = None
    verdict: RecordedName
    at: dt.datetime
    message: Message = ""


class Experiment(Model):
    """The A/B test's evidence so far: the effect on the metric's rate, always-valid."""

    outcome: RecordedName = Field(description="win, loss, noDifference or undecided.")
    effect: float = Field(description="Candidate rate minus baseline rate.")
    low: float
    high: float
    p_value: float
    samples_baseline: int = Field(ge=0)
    samples_candidate: int = Field(ge=0)
    # At most the core's MAX_SAMPLE_SIZE. Not 2**63 - 1: the API server reads a bound that
    # large as a float and then refuses every status that has the field.
    required_per_arm: int = Field(ge=0, le=10**12)
    at: dt.datetime


class Interleaving(Model):
    """The interleave step's evidence so far: the candidate's per-query record, always-valid."""

    outcome: RecordedName = Field(description="win, loss, noDifference or undecided.")
    wins: int = Field(ge=0, description="Queries with more clicks on the candidate's items.")
    losses: int = Field(ge=0)
    ties: int = Field(ge=0)
    win_rate: float = Field(description="The candidate's share of the decided queries.")
    low: float
    high: float
    p_value: float
    # At most the core's MAX_SAMPLE_SIZE, as `Experiment.required_per_arm`.
    required_queries: int = Field(ge=0, le=10**12)
    at: dt.datetime


class RolloutStatus(Status):
    phase: RolloutPhase | None = None
    current_step: int | None = Field(default=None, ge=0)
    current_step_kind: RecordedName | None = Field(
        default=None,
        description="shadow, canary, abTest, interleave, pause or full: the step's key.",
    )
    step_started_at: dt.datetime | None = Field(
        default=None, description="When the router first showed the step's split."
    )
    traffic: TrafficSplit | None = None
    analysis: list[GuardrailResult] = Field(default_factory=list)
    experiment: Experiment | None = Field(default=None, description="The A/B test, once running.")
    interleaving: Interleaving | None = Field(
        default=None, description="The interleave step's test, once running."
    )
    last_analysis_at: dt.datetime | None = None
    breaches: int = Field(default=0, ge=0, description="Guardrail breaches so far.")
    no_data_since: dt.datetime | None = None
    candidate_model: ShortText | None = Field(
        default=None, description="The candidate's model URI."
    )
    resumed: Message | None = Field(
        default=None, description="The last resume request consumed (its annotation value)."
    )
    promoted: Message | None = Field(
        default=None, description="The last promote request consumed (its annotation value)."
    )
    reverted: Message | None = Field(
        default=None, description="The last revert request consumed (its annotation value)."
    )
    next_check_at: dt.datetime | None = Field(
        default=None, description="When the operator looks again (at once, when a person acts)."
    )
    requests_seen: Message | None = Field(
        default=None, description="The rollback, pause, resume and promote requests last read."
    )
    message: Message | None = None
