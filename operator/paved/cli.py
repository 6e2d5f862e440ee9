"""The `paved` command: the operator, the feature store, sign-off and rollout verbs.

Other distributions add verbs through the `paved.commands` entry point group: `paved-local`
adds `paved local …` and `paved demo`, so the operator's wheel carries no platform code.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from paved.settings import OperatorSettings
from paved.wiring import run

if TYPE_CHECKING:
    from paved.services.materialization import MaterializationReport


class _Instant(click.ParamType[dt.datetime]):
    """An ISO 8601 time with a zone (a time without one would mean the machine's)."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> dt.datetime:
        if isinstance(value, dt.datetime):
            return value
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 time, e.g. 2026-01-31T00:00:00Z", param, ctx)
        if parsed.tzinfo is None:
            self.fail(f"{value!r} has no time zone: add one, e.g. Z or +01:00", param, ctx)
        return parsed.astimezone(dt.UTC)


_INSTANT = _Instant()


@click.group()
@click.version_option(package_name="paved")
def main() -> None:
    """paved: the paved road for machine learning on Kubernetes."""


@main.command()
@click.option("--namespace", "namespaces", multiple=True, help="Watch only these namespaces.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: in-cluster.")
@click.option("--metrics-port", type=click.IntRange(0, 65535), help="0 turns metrics off.")
@click.option("--health-port", type=click.IntRange(1, 65535), help="Liveness on /healthz.")
@click.option("--bind", "address", help="Address for metrics and liveness (default 0.0.0.0).")
@click.option("--peering", help="kopf peering name, for an active/standby pair.")
def operator(
    namespaces: tuple[str, ...],
    kubeconfig: str | None,
    metrics_port: int | None,
    health_port: int | None,
    address: str | None,
    peering: str | None,
) -> None:
    """Run the paved operator (also `python -m paved`); settings also come from PAVED_* vars."""
    overrides: dict[str, Any] = {
        "namespaces": list(namespaces) or None,
        "kubeconfig": kubeconfig,
        "metrics_port": metrics_port,
        "health_port": health_port,
        "metrics_address": address,
        "health_address": address,
        "peering": peering,
    }
    settings = OperatorSettings.model_validate(
        {k: v for k, v in overrides.items() if v is not None}
    )
    run(settings)


_STORE_NAMESPACE = click.option(
    "-n",
    "--namespace",
    envvar="PAVED_NAMESPACE",
    default="default",
    show_default=True,
    help="The FeatureViews' namespace (default: PAVED_NAMESPACE, else default).",
)


@main.group()
def features() -> None:
    """Work with FeatureViews from the command line (the SDK is paved.features)."""


@features.command("materialize")
@click.argument("view")
@_STORE_NAMESPACE
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the FeatureView from this file instead of the cluster.",
)
@click.option(
    "--as-of",
    "as_of",
    type=_INSTANT,
    help="A backfill: each entity's latest row as of this ISO 8601 time (with a zone), not now.",
)
def materialize_command(
    view: str, namespace: str, manifest: Path | None, as_of: dt.datetime | None
) -> None:
    """Copy VIEW's offline rows online now, with a progress bar; say how many are readable."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from paved.features import FeatureStore

    store = (
        FeatureStore.from_manifests([manifest], namespace=namespace)
        if manifest
        else FeatureStore.from_cluster(namespace)
    )
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=False) as progress:
        task = progress.add_task(f"{view}: 0 rows", total=None)
        seen = 0

        def advance(rows: int) -> None:
            nonlocal seen
            seen += rows
            progress.update(task, description=f"{view}: {seen:,} rows")

        now = dt.datetime.now(dt.UTC)
        report = store.materialize(view, on_batch=advance, as_of=as_of, now=now)
    click.echo(
        f"{report.written:,} of {report.rows:,} rows written in {report.seconds:.2f}s; "
        f"event watermark {report.watermarks.event}"
    )
    click.echo(_readable_summary(report, store.view(view).ttl, now))


def _readable_summary(
    report: MaterializationReport, ttl: dt.timedelta | None, now: dt.datetime
) -> str:
    """How many of the rows a read serves now, and why the others are not."""
    if not report.expired or ttl is None:
        return f"{report.readable:,} of {report.rows:,} rows readable online now"
    return (
        f"{report.readable:,} of {report.rows:,} rows readable online now; {report.expired:,}"
        f" expired: their event time is before {now - ttl:%Y-%m-%d %H:%M:%S}Z (now minus the"
        f" view's ttl of {ttl}), so no read serves them: expired, or not found once Redis"
        " drops them at event time + twice the ttl. Materialize newer rows for them."
    )


@features.command("serve")
@_STORE_NAMESPACE
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=8090, show_default=True)
def serve_command(namespace: str, host: str, port: int) -> None:
    """Serve HTTP push and online reads for the namespace's FeatureViews."""
    from aiohttp import web

    from paved.feature_server import application
    from paved.features import FeatureStore

    web.run_app(application(FeatureStore.from_cluster(namespace)), host=host, port=port)


@features.command("consume")
@click.argument("view")
@_STORE_NAMESPACE
@click.option("--consumer", default="paved-1", show_default=True, help="Name in the group.")
def consume_command(view: str, namespace: str, consumer: str) -> None:
    """Consume VIEW's Redis stream (paved:stream:NAMESPACE:VIEW) into the online and offline
    stores."""
    import redis

    from paved.features import FeatureStore
    from paved.streaming import StreamConsumer, stream_key

    settings = OperatorSettings()
    store = FeatureStore.from_cluster(namespace, settings)
    stream = StreamConsumer(store, redis.Redis.from_url(settings.redis_url), view, consumer)
    click.echo(f"consuming {stream_key(namespace, view)} as {consumer}; Ctrl-C stops", err=True)
    while True:
        stream.consume_once()


@main.command()
@click.argument("model_version")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--comment", default="", help="Why it is fit for production.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def approve(model_version: str, namespace: str, comment: str, kubeconfig: str | None) -> None:
    """Sign MODEL_VERSION off for production, as the user your kubeconfig authenticates.

    The API server checks the sign-off names you (a ValidatingAdmissionPolicy), so it cannot
    be made in anyone else's name. Also `kubectl paved approve`.
    """
    from paved.adapters.kubernetes.approvals import SignOffRefusedError, sign_off
    from paved.adapters.kubernetes_api import api_client

    try:
        user = sign_off(api_client(kubeconfig), namespace, model_version, comment)
    except SignOffRefusedError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    click.echo(f"modelversion {namespace}/{model_version} signed off by {user}")


@main.group()
def rollout() -> None:
    """Act on a Rollout by hand: roll back, promote, pause, resume, or follow its status.

    Each verb writes an annotation, not the spec, so a GitOps tool sees no drift. Also
    `kubectl paved rollout …`.
    """


def _rollouts(kubeconfig: str | None) -> Any:
    """The API for paved's objects, as your kubeconfig authenticates you."""
    from kubernetes import client

    from paved.adapters.kubernetes_api import api_client

    return client.CustomObjectsApi(api_client(kubeconfig))


def _api_message(error: Any) -> str:
    """What the API server said, in its words (`rollouts.paved.dev "x" not found`)."""
    return str(json.loads(error.body or "{}").get("message", error.reason))


def _annotate(
    name: str,
    namespace: str,
    annotations: dict[str, str | None],
    kubeconfig: str | None,
    plural: str = "rollouts",
) -> None:
    """Set the object's annotations (None removes one) in one patch, so the operator never
    sees half of a request."""
    from kubernetes.client.exceptions import ApiException

    patch = {"metadata": {"annotations": annotations}}
    try:
        _rollouts(kubeconfig).patch_namespaced_custom_object(
            "paved.dev", "v1alpha1", namespace, plural, name, patch
        )
    except ApiException as error:
        click.echo(f"error: {_api_message(error)}", err=True)
        sys.exit(1)


def _now() -> str:
    """A request's value: a new one each time, so that a repeated request acts again."""
    return dt.datetime.now(dt.UTC).isoformat()


@rollout.command("rollback")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--reason", default="requested by a person", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def rollback_command(name: str, namespace: str, reason: str, kubeconfig: str | None) -> None:
    """Send all traffic back to the baseline now (within one operator tick), paused or not."""
    _annotate(name, namespace, {"paved.dev/rollback": reason}, kubeconfig)
    click.echo(f"rollout {namespace}/{name}: rollback requested ({reason})")


@rollout.command("promote")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def promote_command(name: str, namespace: str, kubeconfig: str | None) -> None:
    """Skip the remaining steps to the full step, lifting a pause.

    The candidate still needs its sign-off and green guardrails; when it lacks them the
    request is dropped, and `paved rollout status` says why.
    """
    _annotate(name, namespace, {"paved.dev/promote": _now(), "paved.dev/pause": None}, kubeconfig)
    click.echo(f"rollout {namespace}/{name}: promote requested")


@rollout.command("pause")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--reason", default="requested by a person", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def pause_command(name: str, namespace: str, reason: str, kubeconfig: str | None) -> None:
    """Hold the rollout at its step, traffic as it is, until `paved rollout resume`.

    Guardrails still roll it back while it is paused. The step's clock keeps running: a step
    whose time is up goes on as soon as the rollout is resumed.
    """
    _annotate(name, namespace, {"paved.dev/pause": reason}, kubeconfig)
    click.echo(f"rollout {namespace}/{name}: paused ({reason})")


@rollout.command("resume")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def resume_command(name: str, namespace: str, kubeconfig: str | None) -> None:
    """Go on past a pause: `paved rollout pause`, a pause step, or an A/B result that needs
    judgement."""
    _annotate(name, namespace, {"paved.dev/resume": _now(), "paved.dev/pause": None}, kubeconfig)
    click.echo(f"rollout {namespace}/{name}: resumed")


@rollout.command("status")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("-w", "--watch", is_flag=True, help="Reprint every 2s until the rollout ends.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def status_command(name: str, namespace: str, watch: bool, kubeconfig: str | None) -> None:
    """Show the phase, step, traffic, guardrails, A/B test and the last decision.

    With --watch, exits 0 when the rollout succeeds and 1 when it is rolled back or fails.
    """
    import time

    from kubernetes.client.exceptions import ApiException

    from paved.api.rollout import RolloutPhase

    rollouts = _rollouts(kubeconfig)
    while True:
        try:
            found: dict[str, Any] = rollouts.get_namespaced_custom_object(
                "paved.dev", "v1alpha1", namespace, "rollouts", name
            )
        except ApiException as error:
            click.echo(f"error: {_api_message(error)}", err=True)
            sys.exit(1)
        if watch:
            click.clear()  # a no-op off a terminal, where each reprint is appended instead
        click.echo("\n".join(_status_lines(found)))
        if not watch:
            return
        phase = (found.get("status") or {}).get("phase")
        if phase in (RolloutPhase.SUCCEEDED, RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED):
            sys.exit(0 if phase == RolloutPhase.SUCCEEDED else 1)
        time.sleep(2)
        click.echo()


def _status_lines(rollout: dict[str, Any]) -> list[str]:
    """The Rollout as a person reads it: one aspect a line, the numbers in it."""
    from paved.api.rollout import RolloutStatus

    def number(value: float | None) -> str:
        return "-" if value is None else f"{value:.4g}"

    spec, meta = rollout["spec"], rollout["metadata"]
    status = RolloutStatus.model_validate(rollout.get("status") or {})
    lines = [
        f"rollout {meta['namespace']}/{meta['name']}, candidate {spec['candidate']}",
        f"phase:       {status.phase or 'not reported yet'}",
    ]
    if status.current_step is None:
        lines.append("step:        not started")
    else:
        since = status.step_started_at
        started = f", since {since.isoformat(timespec='seconds')}" if since else ""
        lines.append(
            f"step:        {status.current_step + 1}/{len(spec['steps'])} "
            f"{status.current_step_kind}{started}"
        )
    split = status.traffic
    lines.append(
        f"traffic:     baseline {split.baseline}%, candidate {split.candidate}%"
        f"{', shadow on' if split.shadow else ''}"
        if split
        else "traffic:     unknown"
    )
    if status.analysis:
        at = status.last_analysis_at
        lines.append(
            f"guardrails:  as of {at.isoformat(timespec='seconds')}" if at else "guardrails:"
        )
        width = max(len(r.guardrail) for r in status.analysis)
        lines += [
            f"  {r.guardrail:<{width}}  {r.verdict:<6}  value {number(r.value):<10} "
            f"threshold {number(r.threshold)}"
            for r in status.analysis
        ]
    else:
        lines.append("guardrails:  no verdict yet")
    if (ab := status.experiment) is not None:
        lines.append(
            f"experiment:  {ab.outcome}, effect {ab.effect:+.4f} [{ab.low:+.4f}, {ab.high:+.4f}], "
            f"samples {ab.samples_baseline} baseline / {ab.samples_candidate} candidate "
            f"(of {ab.required_per_arm} per arm)"
        )
    progressing = next((c for c in status.conditions if c.type == "Progressing"), None)
    if progressing is not None:
        lines.append(f"progressing: {progressing.reason}: {progressing.message}")
    return lines


@main.command("lineage")
@click.argument("subject", metavar="KIND/NAME")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
@click.option("--tracking-uri", envvar="PAVED_MLFLOW_TRACKING_URI", help="MLflow's address.")
def lineage_command(
    subject: str, namespace: str, output: str, kubeconfig: str | None, tracking_uri: str | None
) -> None:
    """Print the evidence chain of the model KIND/NAME serves (SeldonDeployment,
    InferenceService or ModelVersion): traffic, Rollouts, registry version, sign-off, gates,
    pipeline run, dataset, FeatureViews, sources. Read live from the cluster and the registry;
    a missing link is said missing, and the command then exits 1. Also `kubectl paved lineage`.
    """
    import asyncio

    from paved.adapters.kubernetes.evidence import Reader
    from paved.adapters.kubernetes_api import api_client
    from paved.adapters.registry.mlflow import MlflowRegistry
    from paved.core.lineage import Facts, as_json, chain, parse_subject, render
    from paved.errors import PermanentError

    parsed = parse_subject(subject)
    if isinstance(parsed, str):
        raise click.BadParameter(parsed, param_hint="KIND/NAME")
    kind, name = parsed
    try:
        seen = Reader(api_client(kubeconfig), namespace).evidence(kind, name)
    except PermanentError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    entry = seen.model_version.status.registry if seen.model_version else None
    where = (entry.name, entry.version) if entry else seen.served_version
    registry = MlflowRegistry(tracking_uri or OperatorSettings().mlflow_tracking_uri)
    registered = asyncio.run(registry.version(*where)) if where else None
    facts = Facts(
        f"{kind.value} {namespace}/{name}",
        seen.serving,
        seen.rollouts,
        seen.model_version,
        registered,
        seen.feature_views,
        seen.served_uri,
        seen.reverts,
    )
    found = chain(facts)
    text = json.dumps(as_json(found), indent=2, default=str) if output == "json" else render(found)
    click.echo(text)
    sys.exit(1 if found.missing else 0)


@main.group()
def model() -> None:
    """Act on a model's production version. Also `kubectl paved model …`."""


@model.command("revert")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--reason", default="reverted by a person", show_default=True)
@click.option("--timeout", type=float, default=120.0, show_default=True, help="Seconds.")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def revert_command(
    name: str, namespace: str, reason: str, timeout: float, kubeconfig: str | None
) -> None:
    """Put back the version model NAME (a ModelVersion's spec.model) had in production before
    the current one: its model serves all traffic on the target again, the registry makes it
    production and archives the current one, recording why on both. The Rollout that promoted
    the current version does it (it reads RolledBack, reason Reverted); this waits for it and
    says how long it took from the command to traffic and registry restored."""
    from paved.adapters.kubernetes.evidence import request_revert
    from paved.adapters.kubernetes_api import api_client
    from paved.errors import PermanentError

    try:
        answer = request_revert(
            api_client(kubeconfig), namespace, name, reason=reason, stamp=_now(), timeout=timeout
        )
    except PermanentError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(1)
    if not answer.reverted:
        click.echo(f"error: rollout {namespace}/{answer.rollout}: {answer.message}", err=True)
        sys.exit(1)
    click.echo(f"rollout {namespace}/{answer.rollout}: {answer.message}")
    click.echo(f"traffic and registry restored in {answer.seconds:.2f}s")


def _add_installed_commands(group: click.Group) -> None:
    """Verbs of other installed distributions (entry points `paved.commands`), e.g. paved-local.

    One that cannot load is named on stderr and left out: a broken plugin never takes the
    operator's own verbs down with it."""
    for entry in entry_points(group="paved.commands"):
        try:
            command = entry.load()
        except Exception as error:  # whatever a third party's import raises
            click.echo(
                f"warning: `paved {entry.name}` ({entry.value}) not loaded: {error}", err=True
            )
            continue
        if not isinstance(command, click.Command):
            click.echo(f"warning: `paved {entry.name}` ({entry.value}) is not a command", err=True)
            continue
        group.add_command(command, entry.name)


_add_installed_commands(main)


@main.group()
def predictions() -> None:
    """Run a BatchPrediction now, or show what it serves. Also `kubectl paved predictions …`."""


def _batch_prediction(name: str, namespace: str, kubeconfig: str | None) -> dict[str, Any]:
    from kubernetes.client.exceptions import ApiException

    try:
        found: dict[str, Any] = _rollouts(kubeconfig).get_namespaced_custom_object(
            "paved.dev", "v1alpha1", namespace, "batchpredictions", name
        )
    except ApiException as error:
        click.echo(f"error: {_api_message(error)}", err=True)
        sys.exit(1)
    return found


@predictions.command("run")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--timeout", type=click.FloatRange(1), default=3600.0, show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def predictions_run_command(
    name: str, namespace: str, timeout: float, kubeconfig: str | None
) -> None:
    """Ask the operator to score NAME now, as of now, and follow the run until it is served.

    Exits 0 once the run is served, 1 when it fails (the Ready condition says why)."""
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from paved.core.batch_predictions import RUN_REQUESTED

    requested = dt.datetime.now(dt.UTC)
    _annotate(
        name, namespace, {RUN_REQUESTED: requested.isoformat()}, kubeconfig, "batchpredictions"
    )
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, transient=True) as progress:
        task = progress.add_task(f"{name}: run as of {requested:%H:%M:%S} requested", total=None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ended = _run_ended(_batch_prediction(name, namespace, kubeconfig), requested)
            if ended is not None:
                break
            progress.update(task, description=f"{name}: scoring (the operator runs it)")
            time.sleep(1)
        else:
            ended = (False, f"no run as of {requested.isoformat()} ended within {timeout:g} s")
    served, message = ended
    click.echo(f"batchprediction {namespace}/{name}: {message}", err=not served)
    sys.exit(0 if served else 1)


def _run_ended(found: dict[str, Any], requested: dt.datetime) -> tuple[bool, str] | None:
    """(served, what to say) once the run as of `requested` (or a later one) ended; else None."""
    from paved.api.batch_prediction import BatchPredictionStatus

    status = BatchPredictionStatus.model_validate(found.get("status") or {})
    served = status.served
    if served is not None and served.as_of >= requested.replace(microsecond=0):
        return True, (
            f"{served.rows:,} entities scored by {served.model} version "
            f"{served.model_version} as of {served.as_of.isoformat()} in {served.seconds:g} s"
        )
    failed = status.last_failure
    if failed is not None and failed.at >= requested.replace(microsecond=0):
        return False, f"{failed.reason}: {failed.message}"
    return None


@predictions.command("rollback")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def predictions_rollback_command(name: str, namespace: str, kubeconfig: str | None) -> None:
    """Serve the predictions NAME served before its last model change again, at once (within
    one operator tick); the version rolled back is not shadowed again."""
    from paved.core.prediction_shadow import ROLLBACK_REQUESTED

    _annotate(name, namespace, {ROLLBACK_REQUESTED: _now()}, kubeconfig, "batchpredictions")
    click.echo(f"batchprediction {namespace}/{name}: rollback requested")


@predictions.command("accept")
@click.argument("name")
@click.argument("version")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def predictions_accept_command(
    name: str, version: str, namespace: str, kubeconfig: str | None
) -> None:
    """Let model VERSION's held shadow predictions replace the served ones (the promotion rule,
    sign-off included, still applies)."""
    from paved.core.prediction_shadow import ACCEPT_REQUESTED

    _annotate(name, namespace, {ACCEPT_REQUESTED: version}, kubeconfig, "batchpredictions")
    click.echo(f"batchprediction {namespace}/{name}: version {version} accepted")


@predictions.command("status")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def predictions_status_command(name: str, namespace: str, kubeconfig: str | None) -> None:
    """Show what NAME serves: the run's model version, as-of, rows and time, and its condition."""
    from paved.api.batch_prediction import BatchPredictionStatus

    found = _batch_prediction(name, namespace, kubeconfig)
    status = BatchPredictionStatus.model_validate(found.get("status") or {})
    lines = [
        f"batchprediction {namespace}/{name}",
        f"phase:    {status.phase or 'not reported yet'}",
    ]
    served = status.served
    if served is None:
        lines.append("serving:  nothing yet")
    else:
        lines += [
            f"serving:  {served.model} version {served.model_version} as of "
            f"{served.as_of.isoformat()} (view {served.view_version})",
            f"run:      {served.rows:,} entities in {served.seconds:g} s, finished "
            f"{served.finished_at.isoformat(timespec='seconds')}; Parquet {served.path}",
        ]
    shadow = status.shadow
    if shadow is not None:
        lines.append(
            f"shadow:   version {shadow.run.model_version} {shadow.verdict.value}: {shadow.message}"
        )
    if status.previous is not None:
        lines.append(f"previous: version {status.previous.model_version} (a rollback restores it)")
    if status.next_run_at is not None:
        lines.append(f"next run: {status.next_run_at.isoformat()}")
    for condition in status.conditions:
        lines.append(
            f"{condition.type}: {condition.status} {condition.reason}: {condition.message}"
        )
    click.echo("\n".join(lines))
