"""`paved local …` and `paved demo`: the embedded platform's verbs, added to the `paved` command
through the `paved.commands` entry points of this distribution."""

from __future__ import annotations

import shlex
import sys
import sysconfig
from pathlib import Path

import click

from paved_local.demo.sites import SiteName, site_for
from paved_local.errors import LocalPlatformError
from paved_local.object_store import ARTIFACT_ROOT
from paved_local.platform import LocalPlatform
from paved_local.toolchain import ensure_argocd, ensure_toolchain


@click.command()
@click.option(
    "--time-scale",
    type=click.FloatRange(0.001, 1),
    default=0.05,
    show_default=True,
    envvar="PAVED_DEMO_TIME_SCALE",
    help="Demo seconds per second of the manifests' schedule (0.05: 10m take 30s).",
)
@click.option("--users", type=click.IntRange(200, 100_000), default=1500, show_default=True)
@click.option(
    "--rate",
    type=click.FloatRange(1, 500),
    default=None,
    help="Requests per second the load generator sends (default: 40 on the local platform, 20 on"
    " kind, where a request costs more CPU).",
)
@click.option(
    "--report",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where the HTML report goes (default: beside the demo's data).",
)
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="PAVED_LOCAL_DIR",
    help="The local platform's directory (with --on local).",
)
@click.option(
    "--on",
    "site_name",
    type=click.Choice([name.value for name in SiteName]),
    default=SiteName.LOCAL.value,
    show_default=True,
    help="Where: the embedded platform, or a kind cluster with paved installed by Helm.",
)
@click.option(
    "--cluster",
    envvar="PAVED_CLUSTER",
    help="The kind cluster's name (with --on kind; default: paved). Created if missing.",
)
def demo(
    time_scale: float,
    users: int,
    rate: float | None,
    report: Path | None,
    directory: Path | None,
    site_name: str,
    cluster: str | None,
) -> None:
    """Run the whole lifecycle on the local platform (or a kind cluster): features, training,
    gates, sign-off, serving, a rollout that wins its A/B test, one that is rolled back, and a
    revert of the promoted version; then a report with `paved lineage` of what serves at the
    end."""
    from rich.console import Console

    from paved_local.demo.errors import DemoError
    from paved_local.demo.live import LineDisplay, TerminalDisplay
    from paved_local.demo.report import write_report
    from paved_local.demo.scenario import Demo, DemoOptions, summary, write_record

    console = Console()
    site = site_for(SiteName(site_name), directory=directory, cluster=cluster)
    # An interrupted demo stops the local platform when this run started it.
    platform = LocalPlatform(directory) if site_name == SiteName.LOCAL else None
    was_up = platform is None or all(component.ready for component in platform.status())
    options = DemoOptions(time_scale=time_scale, users=users, requests_per_second=rate)
    display = TerminalDisplay(console) if console.is_terminal else LineDisplay(console)
    scenario = Demo(site, options, display)
    try:
        with display:
            record = scenario.run_sync()
    except KeyboardInterrupt:
        if platform is not None and not was_up:
            platform.down()
        console.print("interrupted: nothing the demo started is left running")
        sys.exit(130)
    except (DemoError, LocalPlatformError) as error:
        console.print(f"[red]the demo stopped:[/red] {error}")
        console.print(f"its files: {scenario.directory}")
        sys.exit(1)
    path = write_report(record, report or scenario.directory / "report.html")
    write_record(record, path.with_suffix(".json"))
    console.rule("summary")
    for line in summary(record):
        console.print(line, highlight=False)
    console.print(f"report: {path}")
    for line in site.explore(scenario.namespace):
        console.print(line, highlight=False)


@click.group()
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
@click.option(
    "--with-argocd",
    is_flag=True,
    help="Also run Argo CD (built here on first use) and a git daemon it syncs from.",
)
@click.pass_obj
def up(platform: LocalPlatform, apiserver_port: int | None, with_argocd: bool) -> None:
    """Start the platform (idempotent: what already runs is left alone)."""
    try:
        endpoints = platform.up(
            apiserver_port, log=lambda line: click.echo(line, err=True), with_argocd=with_argocd
        )
    except LocalPlatformError as error:
        _fail(error)
        return
    click.echo(f"kubeconfig: {endpoints.kubeconfig}")
    click.echo(f"API server: {endpoints.apiserver}")
    click.echo(f"MLflow:     {endpoints.mlflow} (artifacts in {ARTIFACT_ROOT})")
    click.echo(f"S3:         {endpoints.storage.get('AWS_ENDPOINT_URL', '-')}")
    click.echo(f"Redis:      {endpoints.redis}")
    click.echo(f"Prometheus: {endpoints.prometheus}")
    click.echo(f"Data plane: {endpoints.dataplane}/seldon/<namespace>/<deployment>/api/v1.0/")
    if endpoints.git is not None:
        bare = platform.directory / "git" / "<name>.git"
        click.echo(f"Git:        {endpoints.git}/<name>.git (create it: git init --bare {bare})")
        click.echo("Argo CD:    kubectl -n argocd get applications (docs/gitops.md)")
    click.echo(f'Use it from a shell:  eval "$(paved local env --dir {platform.directory})"')


@local.command()
@click.option("--with-argocd", is_flag=True, help="Also Argo CD's controller and repo server.")
def build(with_argocd: bool) -> None:
    """Build (or find in the cache) kube-apiserver, etcd, kubectl and helm."""
    try:
        toolchain = ensure_toolchain()
        argocd = ensure_argocd() if with_argocd else None
    except LocalPlatformError as error:
        _fail(error)
        return
    for name, path in (vars(toolchain) | (vars(argocd) if argocd else {})).items():
        label = name.replace("_", "-") if name != "binary" else "argocd"
        click.echo(f"{label:<16}{path}")


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
    # The toolchain (kubectl, helm) and this environment's scripts: `paved` and its kubectl
    # plug-in `kubectl-paved` (both entry points of the `paved` distribution), so that
    # `kubectl paved …` works as `paved …` does.
    path = ":".join([*endpoints.bin_dirs, sysconfig.get_path("scripts"), "$PATH"])
    click.echo(f'export PATH="{path}"')
