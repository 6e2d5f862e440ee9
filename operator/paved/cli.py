"""The `paved` command: `paved local …` for the embedded platform (more verbs join later)."""

from __future__ import annotations

import datetime as dt
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from paved.local.errors import LocalPlatformError
from paved.local.platform import LocalPlatform
from paved.local.toolchain import ensure_toolchain
from paved.settings import OperatorSettings
from paved.wiring import run


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


@main.group()
def features() -> None:
    """Work with FeatureViews from the command line (the SDK is paved.features)."""


@features.command("materialize")
@click.argument("view")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option(
    "--manifest",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the FeatureView from this file instead of the cluster.",
)
def materialize_command(view: str, namespace: str, manifest: Path | None) -> None:
    """Copy VIEW's offline rows online now, with a progress bar."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from paved.features import FeatureStore

    store = (
        FeatureStore.from_manifests([manifest])
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

        report = store.materialize(view, on_batch=advance)
    click.echo(
        f"{report.written:,} of {report.rows:,} rows written in {report.seconds:.2f}s; "
        f"event watermark {report.watermarks.event}"
    )


@features.command("serve")
@click.option("-n", "--namespace", default="default", show_default=True)
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
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--consumer", default="paved-1", show_default=True, help="Name in the group.")
def consume_command(view: str, namespace: str, consumer: str) -> None:
    """Consume VIEW's Redis stream (paved:stream:VIEW) into the online and offline stores."""
    import redis

    from paved.features import FeatureStore
    from paved.streaming import StreamConsumer

    settings = OperatorSettings()
    store = FeatureStore.from_cluster(namespace, settings)
    stream = StreamConsumer(store, redis.Redis.from_url(settings.redis_url), view, consumer)
    click.echo(f"consuming paved:stream:{view} as {consumer}; Ctrl-C stops", err=True)
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
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from paved.adapters.kubernetes.cluster import api_client

    api = api_client(kubeconfig)
    review = client.AuthenticationV1Api(api).create_self_subject_review(
        {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
    )
    user = review.status.user_info.username
    patch = {"spec": {"approval": {"signOff": {"by": user, "comment": comment}}}}
    try:
        client.CustomObjectsApi(api).patch_namespaced_custom_object(
            "paved.dev", "v1alpha1", namespace, "modelversions", model_version, patch
        )
    except ApiException as error:
        reason = json.loads(error.body or "{}").get("message", error.reason)
        click.echo(f"error: {reason}", err=True)
        sys.exit(1)
    click.echo(f"modelversion {namespace}/{model_version} signed off by {user}")


@main.group()
def rollout() -> None:
    """Act on a Rollout by hand: roll it back or resume it."""


def _annotate(name: str, namespace: str, key: str, value: str, kubeconfig: str | None) -> None:
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    from paved.adapters.kubernetes.cluster import api_client

    patch = {"metadata": {"annotations": {key: value}}}
    try:
        client.CustomObjectsApi(api_client(kubeconfig)).patch_namespaced_custom_object(
            "paved.dev", "v1alpha1", namespace, "rollouts", name, patch
        )
    except ApiException as error:
        reason = json.loads(error.body or "{}").get("message", error.reason)
        click.echo(f"error: {reason}", err=True)
        sys.exit(1)


@rollout.command("rollback")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--reason", default="requested by a person", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def rollback_command(name: str, namespace: str, reason: str, kubeconfig: str | None) -> None:
    """Send all traffic back to the baseline now (within one operator tick)."""
    _annotate(name, namespace, "paved.dev/rollback", reason, kubeconfig)
    click.echo(f"rollout {namespace}/{name}: rollback requested ({reason})")


@rollout.command("resume")
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Default: KUBECONFIG.")
def resume_command(name: str, namespace: str, kubeconfig: str | None) -> None:
    """Go on past a pause (a pause step, or an A/B result that needs judgement)."""
    stamp = dt.datetime.now(dt.UTC).isoformat()
    _annotate(name, namespace, "paved.dev/resume", stamp, kubeconfig)
    click.echo(f"rollout {namespace}/{name}: resumed")


@main.group()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PAVED_LOCAL_DIR",
    help="Where the platform keeps its state (default: ~/.local/state/paved/local).",
)
@click.pass_context
def local(context: click.Context, directory: Path | None) -> None:
    """The embedded platform on loopback: a real API server, Redis, Prometheus, MLflow."""
    context.obj = LocalPlatform(directory)


def _fail(error: LocalPlatformError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(1)


@local.command()
@click.option("--apiserver-port", type=click.IntRange(1, 65535), help="Bind the API server here.")
@click.pass_obj
def up(platform: LocalPlatform, apiserver_port: int | None) -> None:
    """Start the platform (idempotent: what already runs is left alone)."""
    try:
        endpoints = platform.up(apiserver_port, log=lambda line: click.echo(line, err=True))
    except LocalPlatformError as error:
        _fail(error)
        return
    click.echo(f"kubeconfig: {endpoints.kubeconfig}")
    click.echo(f"API server: {endpoints.apiserver}")
    click.echo(f"MLflow:     {endpoints.mlflow}")
    click.echo(f"Redis:      {endpoints.redis}")
    click.echo(f"Prometheus: {endpoints.prometheus}")
    click.echo(f'Use it from a shell:  eval "$(paved local env --dir {platform.directory})"')


@local.command()
def build() -> None:
    """Build (or find in the cache) kube-apiserver, etcd, kubectl and helm."""
    try:
        toolchain = ensure_toolchain()
    except LocalPlatformError as error:
        _fail(error)
        return
    for name, path in vars(toolchain).items():
        click.echo(f"{name.replace('_', '-'):<16}{path}")


@local.command()
@click.option("--delete-data", is_flag=True, help="Also delete the cluster's data, logs and PKI.")
@click.pass_obj
def down(platform: LocalPlatform, delete_data: bool) -> None:
    """Stop every component; nothing is left running."""
    stopped = platform.down(delete_data=delete_data)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


@local.command()
@click.pass_obj
def status(platform: LocalPlatform) -> None:
    """Show each component: running, ready, pid and address."""
    click.echo(f"{'COMPONENT':<16}{'STATE':<12}{'PID':<10}ADDRESS")
    all_ready = True
    for component in platform.status():
        state = "ready" if component.ready else ("starting" if component.running else "stopped")
        all_ready &= component.ready
        pid = str(component.pid) if component.running and component.pid else "-"
        click.echo(f"{component.name:<16}{state:<12}{pid:<10}{component.address}")
    sys.exit(0 if all_ready else 3)


@local.command()
@click.pass_obj
def env(platform: LocalPlatform) -> None:
    """Print the exports a shell needs: eval "$(paved local env)"."""
    try:
        endpoints = platform.endpoints()
    except LocalPlatformError as error:
        _fail(error)
        return
    for name, value in endpoints.exports().items():
        click.echo(f"export {name}={shlex.quote(value)}")
    path = ":".join([*endpoints.bin_dirs, "$PATH"])
    click.echo(f'export PATH="{path}"')
