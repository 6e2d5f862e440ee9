"""ModelVersion: train once per training input, register with lineage, gate, stage, record
sign-off.

A timer drives it (level-triggered). Each tick, the core's `decide` names the next step; this
handler carries it out through the runner or the registry and hands back what it saw, until the
step is the status to write. Restarts are harmless: the run and the registry entry are found by
key, never started or created twice.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from typing import Final, assert_never

from paved.api.crds import MODEL_VERSION
from paved.api.model_version import ModelVersionSpec, ModelVersionStatus, Stage
from paved.controllers._kopf import Reconciled, Resource, timer
from paved.controllers.acceptance import authors, check_references, governing_policies
from paved.controllers.feature_sources import FeatureSource, MissingSource, feature_source
from paved.core.model_version_steps import (
    PIPELINES_UNAVAILABLE,
    REGISTRY_UNAVAILABLE,
    Act,
    FindVersion,
    ReadOutcome,
    ReadPipeline,
    ReadRun,
    RecordSignOff,
    Register,
    Report,
    Seen,
    SetStage,
    StartRun,
    Subject,
    Unavailable,
    Version,
    decide,
)
from paved.core.model_versions import (
    RolloutBaseline,
    registered_model_name,
    serving_reference,
)
from paved.core.pipeline_contract import TrainingPipeline, described
from paved.core.promotion_policy import metric_floor
from paved.core.reasons import ModelVersionReason
from paved.errors import PermanentError
from paved.ports import Ports
from paved.ports.cluster import Unreadable
from paved.ports.pipelines import (
    PipelineMissing,
    PipelineRun,
    PipelinesUnavailableError,
    PipelineText,
)
from paved.ports.registry import RegistryUnavailableError

# A reconcile takes at most nine steps (read the run, find the version, read the outcome,
# register, record the sign-off, find, stage, find, report); more means an act did not take.
MAX_STEPS: Final = 16
# A feature source that is not readable yet is looked at again this often (a BatchPrediction's
# first run, a FeatureView just deleted and applied again).
FEATURES_RETRY_SECONDS: Final = 30.0
FEATURES_UNAVAILABLE: Final = ModelVersionReason.FEATURES_UNAVAILABLE


ModelVersionResource = Resource[ModelVersionSpec, ModelVersionStatus]


async def _feature_sources(
    resource: ModelVersionResource, ports: Ports
) -> dict[str, FeatureSource]:
    """What the model is trained on, by name: FeatureViews, and BatchPredictions' predictions
    (a hybrid), as the run reads them."""
    sources: dict[str, FeatureSource] = {}
    for selection in resource.spec.features:
        found = await feature_source(resource.namespace, selection.feature_view, ports)
        if isinstance(found, MissingSource):
            if found.lasting:  # a person must change something
                raise PermanentError(found.message)
            raise _FeaturesUnavailableError(found.message)
        sources[found.name] = found
    return sources


class _FeaturesUnavailableError(Exception):
    """A feature source is not there or not readable yet: the run waits, and says why."""


async def _rollout_baselines(resource: ModelVersionResource, ports: Ports) -> list[RolloutBaseline]:
    """The baselines the namespace's Rollouts name that are versions of this model."""
    found = []
    for rollout in await ports.cluster.rollouts(resource.namespace):
        if isinstance(rollout, Unreadable) or rollout.spec.baseline is None:
            continue
        baseline = await ports.cluster.model_version(resource.namespace, rollout.spec.baseline)
        if baseline is None or isinstance(baseline, Unreadable):
            continue
        if baseline.spec.model != resource.spec.model:
            continue
        entry = baseline.status.registry
        version, uri = (entry.version, entry.uri) if entry else (None, None)
        found.append(RolloutBaseline(rollout.created, baseline.name, version, uri))
    return found


async def _reference(
    resource: ModelVersionResource, ports: Ports, model: str
) -> dict[str, str] | None:
    """The model serving now, as the run loads it to score the candidate's holdout (None: a
    first model, judged on the absolute floors)."""
    production = await ports.registry.in_stage(model, Stage.PRODUCTION)
    baselines = [] if production else await _rollout_baselines(resource, ports)
    serving = serving_reference(production, baselines)
    if serving is None:
        return None
    return {"name": serving.name, "version": serving.version, "model_uri": serving.uri}


async def _training_request(
    resource: ModelVersionResource, ports: Ports, key: str, pipeline: TrainingPipeline
) -> str:
    """The run's input document."""
    spec = resource.spec
    sources = await _feature_sources(resource, ports)
    views = {n: s.spec.model_dump(by_alias=True, mode="json") for n, s in sources.items()}
    model = registered_model_name(resource.namespace, spec.model)
    policies = await governing_policies(resource.namespace, ports)
    # The run judges by one floor: the strictest of the spec's and the policies'.
    floor = metric_floor(policies, spec.gates)
    gates = spec.gates.model_copy(
        update={"metric": spec.gates.metric.model_copy(update={"min_value": floor})}
    )
    return json.dumps(
        {
            "run_key": key,
            "model": model,  # the registry's name: the run's MLflow experiment too
            "namespace": resource.namespace,
            "model_version": resource.name,
            "feature_views": views,
            # A hybrid's lineage names the models whose predictions it reads.
            "batch_predictions": {
                n: s.served_version for n, s in sources.items() if s.served_version
            },
            "features": [s.model_dump(by_alias=True) for s in spec.features],
            "labels": spec.labels.model_dump(by_alias=True),
            "task": spec.task.value,
            "data_root": ports.data_root,
            "parameters": spec.pipeline.parameters,
            "seed": spec.pipeline.seed,
            "gates": gates.model_dump(by_alias=True, mode="json"),
            "production": await _reference(resource, ports, model),
            "online_url": ports.online_url,
            "code_commit": ports.code_commit,
            "pipeline": described(pipeline),
        }
    )


async def _carry_out(act: Act, resource: ModelVersionResource, ports: Ports, seen: Seen) -> Seen:
    """Do `act` and return what was seen with its result; an act on the registry is read back
    by the next step rather than assumed."""
    spec = resource.spec
    model = registered_model_name(resource.namespace, spec.model)
    match act:
        case ReadPipeline(config_map=config_map, key=key):
            return replace(
                seen, pipeline=await _compiled(ports, resource.namespace, config_map, key)
            )
        case StartRun(key=key, pipeline=pipeline):
            request = await _training_request(resource, ports, key, pipeline)
            return replace(seen, run=await ports.runner.start(key, pipeline, request))
        case ReadRun(run_id=run_id):
            return replace(seen, run=await ports.runner.get(run_id))
        case ReadOutcome(run_id=run_id, key=key):
            return replace(seen, outcome=await _outcome(ports, model, run_id, key, seen.run))
        case FindVersion(key=key):
            return replace(seen, version=Version(await ports.registry.find(model, key)))
        case Register(key=key, mlflow_run_id=run_id, tags=tags):
            registered = await ports.registry.register(model, run_id, key, tags)
            return replace(seen, version=Version(registered))
        case RecordSignOff(version=version, approval=approval):
            await ports.registry.record_sign_off(
                model, version, approval.by, approval.at.isoformat(), approval.comment
            )
            return replace(seen, version=None)
        case SetStage(version=version, stage=stage):
            await ports.registry.set_stage(model, version, stage)
            return replace(seen, version=None)
        case _:
            assert_never(act)


async def _compiled(
    ports: Ports, namespace: str, config_map: str, key: str
) -> PipelineText | PipelineMissing:
    """A team's compiled pipeline as text (checked by the core, never run here)."""
    if ports.pipelines is None:
        return PipelineMissing(f"ConfigMap {config_map}", "this operator reads no ConfigMaps")
    return await ports.pipelines.compiled(namespace, config_map, key)


async def _outcome(ports: Ports, model: str, run_id: str, key: str, run: PipelineRun | None) -> str:
    """The run's outcome document: its output, else what it logged to MLflow ("" if neither)."""
    try:
        output = (run or await ports.runner.get(run_id)).output
    except PipelinesUnavailableError:
        # KFP's API returns no output parameters anyway: the registry has the outcome of any
        # run KFP ran. Only when it has none is the pipeline service's outage the answer.
        logged = await ports.registry.training_outcome(model, key)
        if logged is None:
            raise
        return logged
    return output or await ports.registry.training_outcome(model, key) or ""


@timer(MODEL_VERSION)
async def train_and_promote(
    resource: ModelVersionResource, ports: Ports, now: dt.datetime
) -> Reconciled:
    status = resource.status
    subject = Subject(
        resource.uid,
        resource.namespace,
        resource.name,
        ports.code_commit,
        authors(resource.annotations),
    )
    policies = await governing_policies(resource.namespace, ports)
    seen = Seen(await check_references(resource, ports))
    for _ in range(MAX_STEPS):
        step = decide(subject, resource.spec, status, seen=seen, now=now, policies=policies)
        if isinstance(step, Report):
            return Reconciled(
                step.observed, step.retry_after_seconds, step.retry_reason, dict(step.updates)
            )
        try:
            seen = await _carry_out(step, resource, ports, seen)
        except RegistryUnavailableError as error:
            down = Unavailable(REGISTRY_UNAVAILABLE, str(error), error.retry_after_seconds)
            seen = replace(seen, unavailable=down)
        except PipelinesUnavailableError as error:
            down = Unavailable(PIPELINES_UNAVAILABLE, str(error), error.retry_after_seconds)
            seen = replace(seen, unavailable=down)
        except _FeaturesUnavailableError as error:
            down = Unavailable(FEATURES_UNAVAILABLE, str(error), FEATURES_RETRY_SECONDS)
            seen = replace(seen, unavailable=down)
    raise PermanentError(f"no status to report after {MAX_STEPS} steps; the last was {step}")
