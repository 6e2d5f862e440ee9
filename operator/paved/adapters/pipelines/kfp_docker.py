"""Training tasks as containers of the training image, run by KFP's local `DockerRunner`.

The run's own process (`paved_pipelines.run_local`, started by `KfpLocalRunner`) stays beside
the operator and orchestrates; every task runs in the training image on the Docker engine, as
KFP's `DockerRunner` runs it. A task container gets this, and nothing else of the operator's:
- the host's network: the local platform's MLflow and Redis listen on loopback only;
- MLflow's tracking URI, and the object-store and MLflow credentials named in `FORWARDED`,
  read from the run process's environment when it starts a task (never written to disk);
- the data root, bind-mounted read-only at the same path, so the request's paths hold; KFP
  mounts the run's pipeline root (its artifacts) read-write;
- the operator's uid and gid: what a task writes in the run's directory stays the operator's to
  read and remove.
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import docker
import requests
from docker.constants import MINIMUM_DOCKER_API_VERSION
from docker.errors import DockerException, ImageNotFound

from paved.ports.pipelines import PipelinesUnavailableError

# Names only: the values reach a task from the run process's environment, which is the
# operator's. AWS_* and MLFLOW_S3_ENDPOINT_URL are what MLflow's S3 artifact store reads.
FORWARDED: Final = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_S3_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_DEFAULT_REGION",
)
ENGINE_TIMEOUT_SECONDS: Final = 10
# The image's entrypoint is `paved`; KFP's task command (`sh -ec …`) must run instead, as it
# does on Kubernetes, where a container's `command` replaces the entrypoint.
NO_ENTRYPOINT: Final = [""]


@dataclass(frozen=True)
class DockerTasks:
    """What every task container of a run gets: the image, the data, MLflow, the network."""

    image: str
    data_root: str
    environment: Mapping[str, str]
    forwarded: tuple[str, ...] = field(default=FORWARDED)

    @classmethod
    def for_training(cls, data_root: str, tracking_uri: str) -> DockerTasks:
        """The training pipeline's image (by name, as `kfp_local` imports the pipeline), the
        data root, and MLflow's tracking URI; HOME is writable by any uid."""
        image: str = importlib.import_module("paved_pipelines.training").IMAGE
        environment = {"MLFLOW_TRACKING_URI": tracking_uri, "HOME": "/tmp"}
        return cls(image, data_root, environment)

    def runner_arguments(self) -> dict[str, Any]:
        """`kfp.local.DockerRunner`'s keyword arguments as JSON, and `forward`: the names whose
        values the run process adds to `environment` from its own."""
        source = str(Path(self.data_root).resolve())
        data = {"Type": "bind", "Source": source, "Target": self.data_root, "ReadOnly": True}
        return {
            "network_mode": "host",
            "user": f"{os.getuid()}:{os.getgid()}",
            "entrypoint": NO_ENTRYPOINT,
            "environment": dict(self.environment),
            "mounts": [data],
            "forward": list(self.forwarded),
        }

    def check_engine(self) -> None:
        """Raise PipelinesUnavailableError unless a Docker engine answers and holds the image
        (nothing is pulled: `make image` builds it)."""
        where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        _listening(where)
        # A set API version: the client connects only when asked, and closes what it opened.
        client = docker.from_env(version=MINIMUM_DOCKER_API_VERSION, timeout=ENGINE_TIMEOUT_SECONDS)
        try:
            client.images.get(self.image)
        except ImageNotFound as error:
            raise PipelinesUnavailableError(
                f"the training image {self.image} is not in the Docker engine at {where}: "
                "build it with `make image` (kfp-docker runs every training task in it and "
                "pulls nothing)"
            ) from error
        except (DockerException, requests.RequestException) as error:
            raise _no_engine(where, error) from error
        finally:
            client.close()


def _listening(where: str) -> None:
    """A local engine's socket accepts connections (docker's client leaks the socket of a
    connection that fails; this one is closed)."""
    if not where.startswith("unix://"):
        return  # tcp:// or ssh://: the client's own request says whether it answers
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(ENGINE_TIMEOUT_SECONDS)
        try:
            probe.connect(where.removeprefix("unix://"))
        except OSError as error:
            raise _no_engine(where, error) from error


def _no_engine(where: str, error: Exception) -> PipelinesUnavailableError:
    return PipelinesUnavailableError(
        f"PAVED_PIPELINE_RUNNER=kfp-docker runs each training task in a container, and no "
        f"Docker engine answers at {where} ({error}): start one (`make setup`) or set "
        "PAVED_PIPELINE_RUNNER=kfp-local to run the tasks as processes"
    )
