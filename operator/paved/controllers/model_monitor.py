"""ModelMonitor: watch the model's production version at the spec's interval (ADR 0031).

Each tick that is due resolves what is watched (the registry's production version, and whether
the target serves it), asks `core/monitor_steps.decide`, and carries the act out: build the
reference histograms once per production version (its training set through the offline
engine, its scores before promotion from the prediction log), or judge the checks on the
recent window of the log (`core/monitor_checks`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any, Final, assert_never

import numpy as np
import pyarrow as pa

from paved.api.crds import MODEL_MONITOR
from paved.api.meta import parse_duration
from paved.api.model_monitor import (
    Freshness,
    Histogram,
    LabelSource,
    ModelMonitorSpec,
    ModelMonitorStatus,
    Retrain,
    Skew,
)
from paved.api.model_version import Stage
from paved.api.rollout import Guardrail
from paved.controllers._kopf import Reconciled, Resource, on_delete, timer
from paved.controllers.feature_sources import MissingSource, feature_source
from paved.core.conditions import Observation
from paved.core.feature_views import FeatureDefinition, view_definition
from paved.core.guardrails import Measurement, evaluate
from paved.core.model_versions import MODEL_VERSION_TAG, registered_model_name
from paved.core.monitor_actions import (
    LastRetraining,
    Since,
    StartRetraining,
    refused,
    reported,
    retrain,
    started,
    too_few_labels,
    with_logged_labels,
)
from paved.core.monitor_checks import (
    Check,
    CheckState,
    CheckVerdict,
    LoggedWindow,
    drift_verdicts,
    guardrails,
    histogram,
    judged_features,
    output_reference,
    too_few,
    unavailable,
)
from paved.core.monitor_features import (
    EntityRead,
    compared_features,
    freshness,
    keyed,
    served_entities,
    skew,
    skew_rows,
    skew_samples,
)
from paved.core.monitor_performance import label_horizon, live_slices, performance
from paved.core.monitor_revert import (
    REVERT,
    RequestRevert,
    promoting_rollout,
    requested,
    revert,
    reverted,
    under_way,
)
from paved.core.monitor_steps import (
    BuildReferences,
    Judge,
    Production,
    Report,
    Subject,
    Unwatched,
    configured,
    decide,
    due,
    judged,
    judged_since,
    references_built,
    unwatched,
)
from paved.core.prediction_log import Joined, Outcome
from paved.core.reasons import MonitorReason as Reason
from paved.core.registry_memory import promoted_at
from paved.core.retrain_labels import label_rows, labels_path
from paved.core.rollout_steps import GuardrailVerdict, Traffic
from paved.core.serving import Arm
from paved.errors import PermanentError, TransientError
from paved.observability import (
    MONITOR_CHECK,
    MONITOR_METRIC,
    MONITOR_PREDICTION_PSI,
    MONITOR_PSI,
    MONITOR_SKEW,
    MONITOR_STALE,
    forget_model_monitor,
)
from paved.ports import Ports
from paved.ports.cluster import ModelVersion, Unreadable
from paved.ports.columns import UTC_MICROS
from paved.ports.monitoring import MonitorReadError, PredictionLogReader
from paved.ports.offline import FeatureRequest, JoinOptions
from paved.ports.online import OnlineRequest
from paved.ports.registry import RegistryUnavailableError
from paved.ports.traffic import TrafficRouter, Unroutable

MonitorResource = Resource[ModelMonitorSpec, ModelMonitorStatus]
# The checks that read the recent window of the prediction log.
WINDOWED: Final = frozenset(
    {Check.INPUT_DRIFT, Check.PREDICTION_DRIFT, Check.FRESHNESS, Check.SKEW}
)
# What reading the features of logged predictions may raise: a store or an engine that does
# not answer or refuses, and logged entities that do not fit the views' join keys.
FEATURES_UNREADABLE: Final = (
    MonitorReadError,
    PermanentError,
    TransientError,
    ValueError,
    KeyError,
    pa.ArrowException,
)
# The gauge of each check whose value is one number for the whole monitor.
BY_CHECK: Final = {
    Check.PREDICTION_DRIFT.value: MONITOR_PREDICTION_PSI,
    Check.FRESHNESS.value: MONITOR_STALE,
}
# The entity rows' time column of the skew check's point-in-time join.
SERVED_AT: Final = "__served_at"
# Rows of a training set the reference histograms rest on at most (spread evenly over it).
MAX_REFERENCE_ROWS: Final = 200_000


@timer(MODEL_MONITOR)
async def watch_model(resource: MonitorResource, ports: Ports, now: dt.datetime) -> Reconciled:
    subject = Subject(resource.spec, resource.status, resource.generation)
    if not due(subject, now):
        return Reconciled([])
    production = await _production(resource, ports)
    traffic = await _traffic(resource, ports, production)
    decision = decide(subject, production, traffic)
    match decision:
        case Unwatched():
            report = unwatched(subject, decision, now)
        case BuildReferences(production=watched):
            report = await _build(resource, ports, watched, now)
        case Judge():
            verdicts = await _judge(resource, ports, decision, now)
            report = judged(subject, decision.production, verdicts, now)
            report = await _revert(resource, ports, report, verdicts, decision.production, now)
            report = await _act(resource, ports, report, verdicts, decision.production, now)
            _export(resource, report.status)
        case _:
            assert_never(decision)
    return Reconciled(report.observations, status=report.status)


async def _production(resource: MonitorResource, ports: Ports) -> Production | Unwatched:
    """The registry's production version of the monitor's model, and what trained it."""
    model = registered_model_name(resource.namespace, resource.spec.model)
    try:
        found = await ports.registry.in_stage(model, Stage.PRODUCTION)
    except RegistryUnavailableError as error:
        return Unwatched(Reason.REGISTRY_UNAVAILABLE, str(error))
    if found is None:
        return Unwatched(Reason.NO_PRODUCTION_VERSION, f"{model} has no production version.")
    _, _, trained_by = found.tags.get(MODEL_VERSION_TAG, "").rpartition("/")
    return Production(model, found.version, found.uri, trained_by or None, promoted_at(found.tags))


async def _router(resource: MonitorResource, ports: Ports) -> TrafficRouter | Unwatched:
    target = resource.spec.target
    if target is None:
        return Unwatched(Reason.TARGET_NOT_FOUND, "This monitor names no target to read.")
    router = await ports.routers.router_for(resource.namespace, target)
    if isinstance(router, Unroutable):
        return Unwatched(Reason.BACKEND_UNAVAILABLE, router.message)
    return router


async def _traffic(
    resource: MonitorResource, ports: Ports, production: Production | Unwatched
) -> Traffic | Unwatched | None:
    """The target's split between the production version's model and anything else."""
    if resource.spec.target is None:
        return None  # no serving object to read: `decide` does not ask
    if isinstance(production, Unwatched):
        return production
    router = await _router(resource, ports)
    if isinstance(router, Unwatched):
        return router
    try:
        return await router.observe(production.uri)
    except TransientError as error:
        return Unwatched(Reason.BACKEND_UNAVAILABLE, str(error))


# -- the references, once per production version ---------------------------------------------


async def _build(
    resource: MonitorResource, ports: Ports, production: Production, now: dt.datetime
) -> Report:
    subject = Subject(resource.spec, resource.status, resource.generation)
    try:
        features = await _feature_histograms(resource, ports, production)
        scores = await _score_histogram(resource, ports, production)
    except (MonitorReadError, PermanentError, ValueError) as error:
        why = Unwatched(Reason.REFERENCES_NOT_BUILT, f"References not built: {error}")
        return unwatched(subject, why, now)
    return references_built(subject, production, features=features, scores=scores, now=now)


async def _trained_requests(
    resource: MonitorResource, ports: Ports, production: Production
) -> tuple[ModelVersion, list[FeatureRequest], dict[str, FeatureDefinition]]:
    """The ModelVersion that trained the production version, the features it read (per view)
    and each feature's definition; MonitorReadError names what is missing."""
    namespace, name = resource.namespace, production.model_version
    if name is None:
        raise MonitorReadError(f"v{production.version} names no ModelVersion that trained it")
    found = await ports.cluster.model_version(namespace, name)
    if found is None or isinstance(found, Unreadable):
        raise MonitorReadError(
            f"ModelVersion {name}, which trained v{production.version}, is not here"
        )
    requests: list[FeatureRequest] = []
    definitions: dict[str, FeatureDefinition] = {}
    for selection in found.spec.features:
        view = await feature_source(namespace, selection.feature_view, ports)
        if isinstance(view, MissingSource):
            raise MonitorReadError(view.message)
        definition = view_definition(
            selection.feature_view, view.spec, ports.data_root, namespace=namespace
        )
        requests.append(FeatureRequest(definition, tuple(selection.names)))
        definitions |= {n: definition.feature(n) for n in selection.names}
    return found, requests, definitions


async def _trained_features(
    resource: MonitorResource, ports: Ports, production: Production
) -> tuple[dict[str, FeatureDefinition], pa.Table]:
    """The features the production version trained on, and its training set's rows of them
    (its labels' entity rows joined point-in-time through the offline engine)."""
    if ports.labels is None:
        raise MonitorReadError("this operator reads no labels (no LabelRows in its ports)")
    found, requests, definitions = await _trained_requests(resource, ports, production)
    labels = found.spec.labels
    rows = await asyncio.to_thread(ports.labels.entity_rows, resource.namespace, labels)
    rows = _spread(rows, MAX_REFERENCE_ROWS)
    options = JoinOptions(entity_timestamp_column=labels.timestamp_column)
    table = await asyncio.to_thread(ports.offline.historical_features, rows, requests, options)
    return definitions, table


async def _feature_histograms(
    resource: MonitorResource, ports: Ports, production: Production
) -> list[Histogram]:
    drift = resource.spec.input_drift
    if drift is None:
        return []
    definitions, table = await _trained_features(resource, ports, production)
    judged_here = judged_features(definitions, drift.features)
    return [
        histogram(name, table.column(name).to_pylist(), numeric=numeric, bins=drift.bins)
        for name, numeric in judged_here.items()
    ]


async def _score_histogram(
    resource: MonitorResource, ports: Ports, production: Production
) -> Histogram | None:
    """The version's logged scores over the window before its promotion, when it had enough."""
    spec, at = resource.spec, production.promoted_at
    if spec.prediction_drift is None or at is None or ports.prediction_log is None:
        return None
    since = at - parse_duration(spec.window)
    logged = await asyncio.to_thread(
        ports.prediction_log.window,
        resource.namespace,
        spec.model,
        production.version,
        since=since,
        until=at,
    )
    if logged.samples < spec.min_samples:
        return None
    return output_reference(logged, bins=spec.prediction_drift.bins)


def _spread(rows: pa.Table, limit: int) -> pa.Table:
    if rows.num_rows <= limit:
        return rows
    return rows.take(pa.array(np.linspace(0, rows.num_rows - 1, limit).astype(np.int64)))


# -- judging the window -----------------------------------------------------------------------


async def _judge(
    resource: MonitorResource, ports: Ports, judge: Judge, now: dt.datetime
) -> list[CheckVerdict]:
    spec = resource.spec
    verdicts = [await _guardrails(resource, ports)] if spec.guardrails is not None else []
    windowed = [c for c in configured(spec) if c in WINDOWED]
    logged = await _window(resource, ports, judge.production, now) if windowed else None
    if isinstance(logged, str):
        verdicts += [unavailable(c, Reason.LOG_UNAVAILABLE, logged) for c in windowed]
    elif logged is not None:
        verdicts += drift_verdicts(spec, judge.references, logged)
    if spec.performance is not None:
        verdicts.append(await _performance(resource, ports, judge.production, now))
    if isinstance(logged, LoggedWindow):
        verdicts += await _feature_verdicts(resource, ports, judge.production, logged, now)
    return verdicts


async def _window(
    resource: MonitorResource, ports: Ports, production: Production, now: dt.datetime
) -> LoggedWindow | str:
    """What the production version served in the monitor's window, or why it is unreadable."""
    spec = resource.spec
    if ports.prediction_log is None:
        return "This operator reads no prediction log (no PredictionLogReader in its ports)."
    since = judged_since(spec, production, now)
    try:
        return await asyncio.to_thread(
            ports.prediction_log.window,
            resource.namespace,
            spec.model,
            production.version,
            since=since,
            until=now,
        )
    except MonitorReadError as error:
        return str(error)


async def _feature_verdicts(
    resource: MonitorResource,
    ports: Ports,
    production: Production,
    logged: LoggedWindow,
    now: dt.datetime,
) -> list[CheckVerdict]:
    """Freshness per served entity and skew on a sample, each Unknown with why when the
    features cannot be read."""
    spec = resource.spec
    sections: dict[Check, Freshness | Skew] = {
        check: section
        for check, section in ((Check.FRESHNESS, spec.freshness), (Check.SKEW, spec.skew))
        if section is not None
    }
    verdicts = {
        check: verdict
        for check in sections
        if (verdict := too_few(check, logged.samples, spec.min_samples, spec.window)) is not None
    }
    try:
        # The features are resolved once per tick, and only when a check will read them.
        pending = [check for check in sections if check not in verdicts]
        requests = (await _trained_requests(resource, ports, production))[1] if pending else []
        for check in pending:
            verdicts[check] = await _feature_check(sections[check], ports, requests, logged, now)
    except FEATURES_UNREADABLE as error:
        why = f"The production version's features cannot be read: {error}"
        for check in sections.keys() - verdicts.keys():
            verdicts[check] = unavailable(check, Reason.FEATURES_UNREADABLE, why)
    return [verdicts[check] for check in sections]


async def _feature_check(
    section: Freshness | Skew,
    ports: Ports,
    requests: list[FeatureRequest],
    logged: LoggedWindow,
    now: dt.datetime,
) -> CheckVerdict:
    match section:
        case Freshness():
            return await _freshness(ports, requests, logged, section, now)
        case Skew():
            return await _skew(ports, requests, logged, section)
        case _:
            assert_never(section)


async def _freshness(
    ports: Ports,
    requests: list[FeatureRequest],
    logged: LoggedWindow,
    spec: Freshness,
    now: dt.datetime,
) -> CheckVerdict:
    """The online store's rows of the entities served (the most recent first), judged."""
    join_keys = {key for r in requests for key in r.view.join_keys}
    found = keyed(served_entities(logged), join_keys)[: spec.max_entities]
    entities, rows = [entity for entity, _ in found], [keys for _, keys in found]
    online = [OnlineRequest(r.view, r.features) for r in requests]
    read = await asyncio.to_thread(ports.online.read, rows, online, now)
    reads = [
        EntityRead(entity, tuple(statuses), tuple(stamps))
        for entity, statuses, stamps in zip(
            entities, read.statuses, read.event_timestamps, strict=True
        )
    ]
    max_age = parse_duration(spec.max_age) if spec.max_age else None
    return freshness(reads, spec=spec, max_age=max_age, now=now)


async def _skew(
    ports: Ports, requests: list[FeatureRequest], logged: LoggedWindow, spec: Skew
) -> CheckVerdict:
    """A sample of the logged predictions against the offline store's point-in-time join of
    their entities as of when each was served."""
    trained = [name for request in requests for name in request.features]
    features = compared_features(trained, spec.features)
    join_keys = {key for r in requests for key in r.view.join_keys}
    picked = skew_rows(logged, join_keys, spec.sample)
    if not picked:
        return skew([], features=features, spec=spec)
    rows = pa.Table.from_pylist([json.loads(logged.entities[i]) for i in picked])
    served_at = pa.array([logged.served_at[i] for i in picked], UTC_MICROS)
    rows = rows.append_column(SERVED_AT, served_at)
    wanted = [
        FeatureRequest(r.view, tuple(f for f in r.features if f in features)) for r in requests
    ]
    options = JoinOptions(entity_timestamp_column=SERVED_AT)
    table = await asyncio.to_thread(
        ports.offline.historical_features, rows, [r for r in wanted if r.features], options
    )
    offline = table.select(features).to_pylist()
    samples = skew_samples(logged, picked, features=features, offline=offline)
    return skew(samples, features=features, spec=spec)


async def _performance(
    resource: MonitorResource, ports: Ports, production: Production, now: dt.datetime
) -> CheckVerdict:
    """The live metric on the judged window against the version's at training."""
    spec, check = resource.spec.performance, Check.PERFORMANCE
    assert spec is not None
    if ports.prediction_log is None:
        message = "This operator reads no prediction log (no PredictionLogReader in its ports)."
        return unavailable(check, Reason.LOG_UNAVAILABLE, message)
    trained = await _trained_by(resource, ports, production)
    if isinstance(trained, str):
        return unavailable(check, Reason.MODEL_VERSION_NOT_FOUND, trained)
    since = judged_since(resource.spec, production, now, window=spec.window)
    try:
        rows = await _joined(
            resource, ports.prediction_log, ports, production.version, since=since, until=now
        )
    except MonitorReadError as error:
        return unavailable(check, Reason.LOG_UNAVAILABLE, str(error))
    lineage = trained.status.lineage if trained.status else None
    return performance(
        rows,
        spec=spec,
        task=trained.spec.task,
        gate_metric=trained.spec.gates.metric.name,
        trained=lineage.metrics if lineage else {},
        slices=live_slices(trained.spec.gates.slices, lineage.slice_metrics if lineage else {}),
    )


async def _joined(
    resource: MonitorResource,
    log: PredictionLogReader,
    ports: Ports,
    version: str | None,
    *,
    since: dt.datetime,
    until: dt.datetime,
) -> list[Joined]:
    """The log's predictions of `version` (every version's: None) in [since, until), each with
    the outcome known at `until`: Seldon feedback's truth, else the label source's."""
    labels = await _label_outcomes(resource, ports)
    return await asyncio.to_thread(
        log.judged,
        resource.namespace,
        resource.spec.model,
        version,
        since=since,
        until=until,
        horizon=label_horizon(resource.spec),
        labels=labels,
    )


async def _trained_by(
    resource: MonitorResource, ports: Ports, production: Production
) -> ModelVersion | str:
    """The ModelVersion that trained the production version, or why it is not here."""
    name = production.model_version
    if name is None:
        return f"v{production.version} names no ModelVersion that trained it."
    found = await ports.cluster.model_version(resource.namespace, name)
    if found is None or isinstance(found, Unreadable):
        return f"ModelVersion {name}, which trained v{production.version}, is not here."
    return found


async def _label_outcomes(resource: MonitorResource, ports: Ports) -> list[Outcome]:
    spec = resource.spec.performance
    if spec is None or spec.labels is None:
        return []
    if ports.labels is None:
        raise MonitorReadError("this operator reads no labels (no LabelRows in its ports)")
    return await asyncio.to_thread(ports.labels.outcomes, resource.namespace, spec.labels)


async def _guardrails(resource: MonitorResource, ports: Ports) -> CheckVerdict:
    """The Rollout's guardrails on the production arm (the target's baseline, after a promotion)."""
    spec = resource.spec
    assert spec.guardrails is not None
    router = await _router(resource, ports)
    if isinstance(router, Unwatched):
        return unavailable(Check.GUARDRAILS, router.reason, router.message)
    try:
        verdicts = [
            await _guardrail(rule, spec.guardrails.window, router, ports, spec.min_samples)
            for rule in spec.guardrails.rules
        ]
    except TransientError as error:
        return unavailable(Check.GUARDRAILS, Reason.METRICS_UNAVAILABLE, str(error))
    return guardrails(verdicts)


async def _guardrail(
    rule: Guardrail, window: str, router: TrafficRouter, ports: Ports, min_samples: int
) -> GuardrailVerdict:
    if rule.builtin is None:
        value = await ports.metrics.value(rule.query or "")
        return evaluate(rule, Measurement(value, None), min_samples)
    queries = await router.guardrail_queries(rule.builtin, Arm.BASELINE, window)
    value = await ports.metrics.value(queries.value)
    return evaluate(
        rule, Measurement(value, await ports.metrics.value(queries.samples)), min_samples
    )


# -- actions ----------------------------------------------------------------------------------


async def _revert(
    resource: MonitorResource,
    ports: Ports,
    report: Report,
    verdicts: list[CheckVerdict],
    production: Production,
    now: dt.datetime,
) -> Report:
    """The revert policy after the checks: ask the promoting Rollout, or say why not."""
    subject = Subject(resource.spec, resource.status, resource.generation)
    if subject.spec.actions.revert is None:
        return report
    rollouts = [
        (r.name, r.spec.candidate, r.status.phase if r.status else None, r.created)
        for r in await ports.cluster.rollouts(resource.namespace)
        if not isinstance(r, Unreadable)
    ]
    promoting = promoting_rollout(rollouts, production)
    action = revert(subject, verdicts, production, promoting, monitor=resource.name, now=now)
    match action:
        case None:
            return report
        case Observation():
            return reverted(report, action)
        case RequestRevert():
            return await _request_revert(resource, ports, report, action)
        case _:
            assert_never(action)


async def _request_revert(
    resource: MonitorResource, ports: Ports, report: Report, request: RequestRevert
) -> Report:
    if ports.reverts is None:
        message = f"{request.record.evidence}; but this operator asks no Rollout to revert"
        observed = Observation(REVERT, "False", Reason.REVERT_REFUSED, message)
        return reverted(report, observed)
    try:
        await ports.reverts.request_revert(resource.namespace, request.rollout, request.value)
    except PermanentError as error:
        why = f"Rollout {request.rollout} refused the revert: {error}"
        return reverted(report, Observation(REVERT, "False", Reason.REVERT_REFUSED, why))
    return reverted(report, requested(request), request.record)


async def _act(
    resource: MonitorResource,
    ports: Ports,
    report: Report,
    verdicts: list[CheckVerdict],
    production: Production,
    now: dt.datetime,
) -> Report:
    """The retrain policy after the checks: start a retraining, or say why not."""
    subject = Subject(resource.spec, resource.status, resource.generation)
    if under_way(report):
        return report
    last = await _last_retraining(resource, ports)
    since = await _since(resource, ports, production, now)
    action = retrain(subject, verdicts, last, monitor=resource.name, now=now, since=since)
    match action:
        case None:
            return report
        case Observation():
            return reported(report, action)
        case StartRetraining():
            return await _start_retraining(resource, ports, report, action)
        case _:
            assert_never(action)


async def _since(
    resource: MonitorResource, ports: Ports, production: Production, now: dt.datetime
) -> Since:
    """Since the last retraining started (or the promotion): and, when a policy counts new
    labels, how many logged predictions have a known outcome since then."""
    policy, record = resource.spec.actions.retrain, resource.status.retraining
    anchor = record.started_at if record is not None else production.promoted_at
    if policy is None or policy.after_labels is None or anchor is None:
        return Since(anchor)
    if ports.prediction_log is None:
        return Since(anchor)
    try:
        joined = await _joined(resource, ports.prediction_log, ports, None, since=anchor, until=now)
    except MonitorReadError:
        return Since(anchor)  # uncounted: the performance check says why the log is unreadable
    return Since(anchor, sum(1 for row in joined if row.outcome is not None))


async def _last_retraining(resource: MonitorResource, ports: Ports) -> LastRetraining | None:
    record = resource.status.retraining
    if record is None:
        return None
    found = await ports.cluster.model_version(resource.namespace, record.model_version)
    if found is None:
        return LastRetraining(found=False)
    status = found.status
    return LastRetraining(found=True, phase=status.phase if status is not None else None)


async def _start_retraining(
    resource: MonitorResource, ports: Ports, report: Report, start: StartRetraining
) -> Report:
    """Create the retraining's ModelVersion; a refusal is reported, and nothing recorded."""
    if ports.model_versions is None:
        return reported(report, refused(start, "this operator creates no ModelVersions"))
    policy = resource.spec.actions.retrain
    if policy is not None and policy.labels_from is LabelSource.PREDICTION_LOG:
        labelled = await _labels_from_the_log(resource, ports, start, policy)
        if isinstance(labelled, Observation):
            return reported(report, labelled)
        start = labelled
    try:
        created = await ports.model_versions.create(
            resource.namespace,
            start.record.model_version,
            start.spec,
            labels=start.labels,
            annotations=start.annotations,
        )
    except PermanentError as error:
        return reported(report, refused(start, str(error)))
    return reported(report, started(start, created=created), start.record)


async def _labels_from_the_log(
    resource: MonitorResource, ports: Ports, start: StartRetraining, policy: Retrain
) -> StartRetraining | Observation:
    """The retraining's labels file, written from the log's labelled predictions of the last
    labelWindow (every version's: a label is the entity's, whoever predicted it)."""
    if ports.prediction_log is None or ports.labels is None:
        return refused(start, "this operator reads no prediction log or writes no labels")
    now = start.record.started_at
    since = now - parse_duration(policy.label_window)
    try:
        joined = await _joined(resource, ports.prediction_log, ports, None, since=since, until=now)
        rows = label_rows(joined, start.spec.labels, start.spec.task)
        if len(rows) < policy.min_labels:
            found, needed = len(rows), policy.min_labels
            return too_few_labels(start, found=found, needed=needed, window=policy.label_window)
        path = labels_path(resource.name, start.record.model_version)
        await asyncio.to_thread(ports.labels.write, resource.namespace, path, rows)
    except MonitorReadError as error:
        return refused(start, f"its labels from the prediction log: {error}")
    return with_logged_labels(start, path=path, rows=len(rows))


def _export(resource: MonitorResource, status: ModelMonitorStatus) -> None:
    labels = (resource.namespace, resource.name)
    forget_model_monitor(*labels)  # a feature or check no longer judged has no series
    for check in status.checks:
        if check.state != CheckState.UNKNOWN.value:
            MONITOR_CHECK.labels(*labels, check.check).set(check.state == CheckState.ALARM.value)
        if check.value is not None and check.check in BY_CHECK:
            BY_CHECK[check.check].labels(*labels).set(check.value)
    for drift in status.drift:
        MONITOR_PSI.labels(*labels, drift.feature).set(drift.psi)
    for skewed in status.skew:
        if skewed.compared:
            MONITOR_SKEW.labels(*labels, skewed.feature).set(skewed.mismatch_rate)
    for reading in status.performance:
        # The whole window's over every prediction: not a day's, not a slice's.
        if reading.day is None and reading.slice is None and reading.value is not None:
            MONITOR_METRIC.labels(*labels, reading.metric).set(reading.value)


@on_delete(MODEL_MONITOR)
async def stop_watching(resource: Resource[Any, Any], _ports: Ports, _attempts: int) -> Reconciled:
    """Its series go with it: a deleted monitor's alarm must not keep firing."""
    forget_model_monitor(resource.namespace, resource.name)
    observed = Observation("Watching", "False", Reason.NOT_JUDGED, "Deleted: no longer watching.")
    return Reconciled([observed])
