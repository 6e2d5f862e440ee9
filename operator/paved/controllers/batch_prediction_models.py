"""Which model a BatchPrediction scores with, as the cluster and the registry say now: a pinned
ModelVersion's registry version, or a registered model's production version and the
ModelVersion that trained it (whose features it reads)."""

from __future__ import annotations

from paved.api.model_version import ModelChoice, Stage
from paved.controllers.acceptance import authors, governing_policies
from paved.controllers.feature_sources import MissingSource, feature_source
from paved.core.batch_prediction_steps import Waiting
from paved.core.batch_predictions import ModelInput, ScoringModel
from paved.core.feature_views import view_definition
from paved.core.model_versions import MODEL_VERSION_TAG, registered_model_name
from paved.core.promotion_policy import promotion_refusal
from paved.core.reasons import BatchPredictionReason
from paved.errors import PathOutsideDataRootError
from paved.ports import Ports
from paved.ports.cluster import ModelVersion, Unreadable
from paved.ports.registry import RegistryUnavailableError


async def find_model(namespace: str, choice: ModelChoice, ports: Ports) -> ScoringModel | Waiting:
    """The model that scores now, or why none can."""
    if choice.model_version is not None:
        return await _trained_by(namespace, choice.model_version, ports, version=None)
    assert choice.name is not None  # the schema: exactly one of the two
    registered = registered_model_name(namespace, choice.name)
    try:
        production = await ports.registry.in_stage(registered, Stage.PRODUCTION)
    except RegistryUnavailableError as error:
        return Waiting(BatchPredictionReason.REGISTRY_UNAVAILABLE, str(error))
    if production is None:
        message = f"{registered} has no production version yet; nothing scores until one is."
        return Waiting(BatchPredictionReason.NO_PRODUCTION_VERSION, message)
    _, _, trained_by = production.tags.get(MODEL_VERSION_TAG, "").rpartition("/")
    return await _trained_by(namespace, trained_by, ports, version=production.version)


async def _trained_by(
    namespace: str, name: str, ports: Ports, *, version: str | None
) -> ScoringModel | Waiting:
    """The ModelVersion `name` as a scoring model; `version`: the registry version it must hold."""
    found = await ports.cluster.model_version(namespace, name) if name else None
    if found is None or isinstance(found, Unreadable):
        why = "does not exist" if found is None else f"cannot be read: {found.problem}"
        message = f"ModelVersion {name or '(unnamed)'}, which the model's version names, {why}."
        return Waiting(BatchPredictionReason.MODEL_UNKNOWN, message)
    entry = found.status.registry
    if entry is None or entry.uri is None or (version is not None and entry.version != version):
        phase = found.status.phase.value if found.status.phase else "Pending"
        message = f"ModelVersion {name} is not registered yet (phase {phase})."
        return Waiting(BatchPredictionReason.MODEL_NOT_READY, message)
    inputs = await _inputs(namespace, found, ports)
    if isinstance(inputs, Waiting):
        return inputs
    # Whether it may replace served predictions: the rule for reaching production.
    policies = await governing_policies(namespace, ports)
    refusal = promotion_refusal(
        name, found.spec, found.status, authors=authors(found.annotations), policies=policies
    )
    return ScoringModel(entry.name, entry.version, entry.uri or "", name, inputs, refusal)


async def _inputs(
    namespace: str, model_version: ModelVersion, ports: Ports
) -> tuple[ModelInput, ...] | Waiting:
    """The features the model was trained on, each from its FeatureView (or, for a hybrid, the
    predictions of a BatchPrediction) as it is now."""
    inputs = []
    for selection in model_version.spec.features:
        found = await feature_source(namespace, selection.feature_view, ports)
        if isinstance(found, MissingSource):
            message = f"{found.message}: the model reads it."
            return Waiting(BatchPredictionReason.MODEL_NOT_READY, message)
        try:
            view = view_definition(found.name, found.spec, ports.data_root, namespace=namespace)
        except PathOutsideDataRootError as error:
            return Waiting(error.reason, str(error))
        inputs.append(ModelInput(view, tuple(selection.names)))
    return tuple(inputs)
