"""Every reason paved writes on a condition, an event or a verdict: one enum per kind of thing.

A reason is a CamelCase word a person or a tool (`kubectl wait`, an alert, Argo CD's health
check) matches on, so each one is spelled once, here, and the core, the controllers and the
tests name it by its member. Messages, which carry the numbers, stay beside the decisions.
"""

from __future__ import annotations

from enum import StrEnum


class AcceptanceReason(StrEnum):
    """The Accepted condition: whether the spec is valid and what it refers to exists."""

    ACCEPTED = "Accepted"
    REFERENCE_NOT_FOUND = "ReferenceNotFound"
    INVALID_SPEC = "InvalidSpec"
    # Another FeatureView, BatchPrediction or StreamingPrediction serves under this name.
    NAME_TAKEN = "NameTaken"


class FailureReason(StrEnum):
    """A reconcile that failed with an error that carries no reason of its own."""

    RECONCILE_ERROR = "ReconcileError"


class FeatureViewReason(StrEnum):
    """The FeatureView's Ready and Fresh conditions, and its deletion's events."""

    MATERIALIZED = "Materialized"
    ONLINE_STORE_UNAVAILABLE = "OnlineStoreUnavailable"
    ONLINE_KEYS_REMOVED = "OnlineKeysRemoved"
    WITHIN_SLO = "WithinSlo"
    NOT_MATERIALIZED = "NotMaterialized"
    SLO_BREACHED = "SloBreached"


class StreamingPredictionReason(StrEnum):
    """The StreamingPrediction's Ready and Fresh conditions, and why an event was parked."""

    RUNNING = "Running"
    WORKERS_STARTING = "WorkersStarting"
    SCALED_TO_ZERO = "ScaledToZero"
    WORKERS_UNAVAILABLE = "WorkersUnavailable"
    WORKERS_STOPPED = "WorkersStopped"
    FEATURE_VIEW_NOT_FOUND = "FeatureViewNotFound"
    FEATURE_NOT_FOUND = "FeatureNotFound"
    JOIN_KEYS_DIFFER = "JoinKeysDiffer"
    MODEL_NOT_FOUND = "ModelNotFound"
    REGISTRY_UNAVAILABLE = "RegistryUnavailable"
    STREAM_UNAVAILABLE = "StreamUnavailable"
    CAUGHT_UP = "CaughtUp"
    WITHIN_SLO = "WithinSlo"
    SLO_BREACHED = "SloBreached"
    # A parked (dead-lettered) event's reason.
    NOT_AN_EVENT = "NotAnEvent"
    ENTITY_MISSING = "EntityMissing"
    FEATURES_MISSING = "FeaturesMissing"
    SCORING_FAILED = "ScoringFailed"


class GateReason(StrEnum):
    """Why a gate passed, failed or could not judge (a GateVerdict's reason)."""

    SCHEMA_MATCHES = "SchemaMatches"
    SCHEMA_VIOLATED = "SchemaViolated"
    NO_DRIFT = "NoDrift"
    DRIFT_DETECTED = "DriftDetected"
    BELOW_FLOOR = "BelowFloor"
    NO_PRODUCTION_MODEL = "NoProductionModel"  # no reference and no floor: nothing to judge
    FLOOR_MET = "FloorMet"  # no reference: judged on the absolute floor alone
    REFERENCE_UNSCORED = "ReferenceUnscored"  # the reference could not score this holdout
    NO_SERVING_INPUTS = "NoServingInputs"  # nothing serves the feature now to drift from
    METRIC_HOLDS = "MetricHolds"
    METRIC_REGRESSED = "MetricRegressed"
    INSUFFICIENT_SUPPORT = "InsufficientSupport"
    SLICE_HOLDS = "SliceHolds"
    SLICE_REGRESSED = "SliceRegressed"
    GOLDEN_CASES_HOLD = "GoldenCasesHold"
    GOLDEN_CASES_FAILED = "GoldenCasesFailed"


class ModelVersionReason(StrEnum):
    """The ModelVersion's Trained and GatesPassed conditions."""

    TRAINING = "Training"
    EVALUATING = "Evaluating"
    REGISTERED = "Registered"
    NOT_EVALUATED = "NotEvaluated"
    GATES_PASSED = "GatesPassed"
    UNREADABLE_OUTCOME = "UnreadableOutcome"
    PIPELINE_FAILED = "PipelineFailed"
    PIPELINE_CANCELED = "PipelineCanceled"
    PIPELINE_SKIPPED = "PipelineSkipped"
    REGISTRY_UNAVAILABLE = "RegistryUnavailable"
    PIPELINES_UNAVAILABLE = "PipelinesUnavailable"
    # A feature source exists but cannot be read yet (a hybrid's BatchPrediction has served
    # nothing): the run starts once it can.
    FEATURES_UNAVAILABLE = "FeaturesUnavailable"
    # A team's pipeline by reference (ADR 0037): not found, or its IR breaks the contract.
    PIPELINE_NOT_FOUND = "PipelineNotFound"
    PIPELINE_CONTRACT_BROKEN = "PipelineContractBroken"


class SignOffReason(StrEnum):
    """The Approved condition: whether a sign-off approves what would be promoted."""

    SIGNED_OFF = "SignedOff"
    NOT_REQUIRED = "NotRequired"
    AWAITING_SIGN_OFF = "AwaitingSignOff"
    SELF_APPROVAL = "SelfApproval"
    SIGN_OFF_VOIDED = "SignOffVoided"
    NOT_AN_APPROVER = "NotAnApprover"


class PolicyReason(StrEnum):
    """The PolicySatisfied condition, and a Rollout's pause before a gate step."""

    POLICY_MET = "PolicyMet"
    POLICY_VIOLATED = "PolicyViolated"


class TransitionReason(StrEnum):
    """A registry stage move, allowed or refused."""

    UNCHANGED = "Unchanged"
    MOVED_TO_STAGING = "MovedToStaging"
    MOVED_TO_PRODUCTION = "MovedToProduction"
    MOVED_TO_ARCHIVED = "MovedToArchived"
    TRANSITION_NOT_ALLOWED = "TransitionNotAllowed"
    GATES_FAILED = "GatesFailed"
    PROMOTION_REFUSED = "PromotionRefused"
    AWAITING_ROLLOUT = "AwaitingRollout"
    RESTORED = "Restored"
    RESTORE_ONLY_BY_REVERT = "RestoreOnlyByRevert"


class RolloutReason(StrEnum):
    """The Rollout's Progressing condition: what the last decision was, and why."""

    WAITING_FOR_CANDIDATE = "WaitingForCandidate"
    ROUTE_REFUSED = "RouteRefused"
    STEP_STARTED = "StepStarted"
    STEP_IN_PROGRESS = "StepInProgress"
    WAITING_FOR_TRAFFIC = "WaitingForTraffic"
    EXPERIMENTING = "Experimenting"
    PAUSED_BY_REQUEST = "PausedByRequest"
    PAUSED_FOR_JUDGEMENT = "PausedForJudgement"
    AB_TEST_NEEDS_JUDGEMENT = "AbTestNeedsJudgement"
    INTERLEAVING_NEEDS_JUDGEMENT = "InterleavingNeedsJudgement"
    NO_DATA = "NoData"
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    POLICY_VIOLATED = PolicyReason.POLICY_VIOLATED.value
    PROMOTION_REFUSED = "PromotionRefused"
    PROMOTE_REQUESTED = "PromoteRequested"
    PROMOTE_NOT_POSSIBLE = "PromoteNotPossible"
    PROMOTED = "Promoted"
    COMPLETED = "Completed"
    ALREADY_SERVING = "AlreadyServing"
    FINISHED = "Finished"
    ROLLBACK_REQUESTED = "RollbackRequested"
    GUARDRAIL_BREACHED = "GuardrailBreached"
    CANDIDATE_GONE = "CandidateGone"
    AB_TEST_WIN = "AbTestWin"
    AB_TEST_NO_DIFFERENCE = "AbTestNoDifference"
    AB_TEST_LOSS = "AbTestLoss"
    INTERLEAVING_WIN = "InterleavingWin"
    INTERLEAVING_NO_DIFFERENCE = "InterleavingNoDifference"
    INTERLEAVING_LOSS = "InterleavingLoss"
    REVERTED = "Reverted"
    REVERT_REFUSED = "RevertRefused"


class AdmissionReason(StrEnum):
    """Why a Rollout may not start (the Progressing condition, False, before any traffic)."""

    STEP_NOT_SUPPORTED = "StepNotSupported"
    CANDIDATE_NOT_STAGED = "CandidateNotStaged"
    DEPLOYMENT_NOT_FOUND = "DeploymentNotFound"
    BASELINE_MISSING = "BaselineMissing"
    TARGET_TAKEN = "TargetTaken"
    QUERY_INVALID = "QueryInvalid"
    POLICY_VIOLATED = PolicyReason.POLICY_VIOLATED.value


class BatchPredictionReason(StrEnum):
    """The BatchPrediction's Ready condition: whether the predictions of the due run are served."""

    SCORED = "Scored"
    WAITING_FOR_TRIGGER = "WaitingForTrigger"  # no watermark yet, or the schedule never ran
    MODEL_NOT_READY = "ModelNotReady"  # the pinned ModelVersion is not registered yet
    NO_PRODUCTION_VERSION = "NoProductionVersion"
    MODEL_UNKNOWN = "ModelUnknown"  # production names no ModelVersion of this namespace
    REGISTRY_UNAVAILABLE = "RegistryUnavailable"
    ONLINE_STORE_UNAVAILABLE = "OnlineStoreUnavailable"
    MODEL_UNLOADABLE = "ModelUnloadable"
    SCORING_FAILED = "ScoringFailed"


class ModelChangeReason(StrEnum):
    """The BatchPrediction's ModelChange condition: a new model version's predictions, shadowed."""

    SHADOW_ACCEPTED = "ShadowAccepted"
    SHADOW_HELD = "ShadowHeld"
    ROLLED_BACK = "RolledBack"
    NOTHING_TO_ROLL_BACK = "NothingToRollBack"


class MonitorReason(StrEnum):
    """The ModelMonitor's conditions: Watching, one per check, and Healthy over them."""

    WATCHING = "Watching"
    NO_PRODUCTION_VERSION = "NoProductionVersion"
    MODEL_VERSION_NOT_FOUND = "ModelVersionNotFound"  # production names no ModelVersion here
    TARGET_NOT_FOUND = "TargetNotFound"
    TARGET_NOT_PRODUCTION = "TargetNotProduction"
    BACKEND_UNAVAILABLE = "BackendUnavailable"
    REGISTRY_UNAVAILABLE = "RegistryUnavailable"
    LOG_UNAVAILABLE = "LogUnavailable"
    REFERENCES_NOT_BUILT = "ReferencesNotBuilt"  # the training set or the scores unreadable
    TOO_FEW_SAMPLES = "TooFewSamples"
    NO_REFERENCE = "NoReference"
    NO_DRIFT = "NoDrift"
    DRIFT_DETECTED = "DriftDetected"
    GUARDRAILS_HOLD = "GuardrailsHold"
    GUARDRAIL_BREACHED = "GuardrailBreached"
    METRICS_UNAVAILABLE = "MetricsUnavailable"
    PERFORMANCE_HOLDS = "PerformanceHolds"
    PERFORMANCE_DROPPED = "PerformanceDropped"
    NOT_MEASURABLE = "NotMeasurable"  # the metric cannot be computed on these outcomes
    FEATURES_FRESH = "FeaturesFresh"
    FEATURES_STALE = "FeaturesStale"
    NO_SKEW = "NoSkew"
    SKEW_DETECTED = "SkewDetected"
    FEATURES_UNREADABLE = "FeaturesUnreadable"  # the online or offline store did not answer
    ALL_CHECKS_PASS = "AllChecksPass"
    CHECKS_ALARM = "ChecksAlarm"
    NOT_JUDGED = "NotJudged"
    # The Retraining condition (an action, not a check).
    NOT_TRIGGERED = "NotTriggered"
    RETRAIN_STARTED = "RetrainStarted"
    RETRAIN_IN_FLIGHT = "RetrainInFlight"
    COOLING_DOWN = "CoolingDown"
    RETRAIN_REFUSED = "RetrainRefused"
    # The Revert condition (an action).
    REVERT_REQUESTED = "RevertRequested"
    NO_PROMOTING_ROLLOUT = "NoPromotingRollout"
    ALREADY_REVERTED = "AlreadyReverted"  # no second revert before a new promotion
    REVERT_REFUSED = "RevertRefused"
