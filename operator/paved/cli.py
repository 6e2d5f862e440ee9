"""The `paved` command: `paved local …` for the embedded platform (more verbs join later)."""

from __future__ import annotations

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
