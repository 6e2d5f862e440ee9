"""`paved cluster …`: a kind cluster on a node image built here (see paved_local.cluster)."""

from __future__ import annotations

import shlex
import sys
import sysconfig

import click

from paved_local.cluster import DEFAULT_NAME, KindCluster, build_paved_images
from paved_local.errors import LocalPlatformError


@click.group()
@click.option("--name", default=DEFAULT_NAME, show_default=True, envvar="PAVED_CLUSTER")
@click.pass_context
def cluster(context: click.Context, name: str) -> None:
    """A real cluster: kind nodes as Docker containers, Pods, Services, DNS, storage."""
    context.obj = KindCluster(name=name)


def _fail(error: LocalPlatformError) -> None:
    click.echo(f"error: {error}", err=True)
    sys.exit(1)


@cluster.command()
@click.option("--image", "images", multiple=True, help="A local Docker image to load (repeat).")
@click.option(
    "--paved-images", is_flag=True, help="Build (or find) paved's images and load them all."
)
@click.pass_obj
def up(kind: KindCluster, images: tuple[str, ...], paved_images: bool) -> None:
    """Create the cluster (idempotent) and wait until Pods run and DNS answers."""
    try:
        loaded = [*images, *(build_paved_images() if paved_images else [])]
        kind.up(images=loaded, log=lambda line: click.echo(line, err=True))
    except LocalPlatformError as error:
        _fail(error)
        return
    click.echo(f"kubeconfig: {kind.kubeconfig}")
    click.echo(f'Use it from a shell:  eval "$(paved cluster --name {kind.name} env)"')


@cluster.command()
@click.pass_obj
def down(kind: KindCluster) -> None:
    """Delete the cluster and its nodes."""
    click.echo(f"deleted {kind.name}" if kind.down() else f"no cluster named {kind.name}")


@cluster.command()
@click.pass_obj
def status(kind: KindCluster) -> None:
    """Each node and whether it is Ready (exit 3 unless all are)."""
    if not kind.exists():
        click.echo(f"no cluster named {kind.name}")
        sys.exit(3)
    nodes = kind.nodes()
    click.echo(f"{'NODE':<32}{'READY':<8}VERSION")
    for node in nodes:
        click.echo(f"{node.name:<32}{'yes' if node.ready else 'no':<8}{node.version}")
    sys.exit(0 if nodes and all(n.ready for n in nodes) else 3)


@cluster.command()
@click.pass_obj
def env(kind: KindCluster) -> None:
    """Print the exports a shell needs: eval "$(paved cluster env)"."""
    for name, value in kind.exports().items():
        click.echo(f"export {name}={shlex.quote(value)}")
    # kind, kubectl, helm and this environment's scripts: `paved` and its kubectl plug-in.
    path = ":".join([*(str(d) for d in kind.bin_dirs()), sysconfig.get_path("scripts"), "$PATH"])
    click.echo(f'export PATH="{path}"')
