"""The platform's components are one table; `up` starts each once what it waits for is ready."""

from __future__ import annotations

from pathlib import Path

import pytest

from paved_local.components import (
    APISERVER,
    DATAPLANE,
    ETCD,
    MLFLOW,
    OBJECT_STORE,
    TABLE,
    Component,
    Site,
)
from paved_local.errors import ComponentFailedError
from paved_local.platform import LocalPlatform, PlatformState


def test_each_component_waits_only_for_components_listed_before_it() -> None:
    seen: set[str] = set()
    for component in TABLE:
        assert set(component.after) | set(component.restarts_with) <= seen, component.name
        seen.add(component.name)


class Recording(LocalPlatform):
    """A platform whose components start and answer at once, saying in which order."""

    def __init__(self, directory: Path) -> None:
        super().__init__(directory)
        self.said: list[str] = []

    def _start(
        self, _state: PlatformState, _site: Site, component: Component, _log: object
    ) -> None:
        self.said.append(f"start {component.name}")

    def _await(self, _state: PlatformState, component: Component) -> None:
        self.said.append(f"ready {component.name}")


def _launch(tmp_path: Path, names: set[str]) -> list[str]:
    platform = Recording(tmp_path)
    needed = [component for component in TABLE if component.name in names]
    platform._launch(PlatformState(), site=None, needed=needed, log=lambda _: None)  # type: ignore[arg-type]
    return platform.said


def test_the_api_server_starts_once_etcd_is_ready_and_the_data_plane_goes_last(
    tmp_path: Path,
) -> None:
    said = _launch(tmp_path, {c.name for c in TABLE})
    assert said.index(f"start {APISERVER}") > said.index(f"ready {ETCD}")
    assert said.index(f"start {DATAPLANE}") > said.index(f"ready {APISERVER}")
    assert said.index(f"start {DATAPLANE}") > said.index(f"ready {MLFLOW}")
    assert said.index(f"start {MLFLOW}") > said.index(f"ready {OBJECT_STORE}")
    assert said == [
        # What waits for nothing starts at once, before anything is waited for.
        "start object-store",
        "start etcd",
        "start redis",
        "start prometheus",
        "ready object-store",
        "start mlflow",
        "ready etcd",
        "start kube-apiserver",
        # What started is waited for in the table's order.
        "ready kube-apiserver",
        "ready redis",
        "ready prometheus",
        "ready mlflow",
        "start dataplane",
        "ready dataplane",
    ]
    assert sorted(said) == sorted(
        [f"start {c.name}" for c in TABLE] + [f"ready {c.name}" for c in TABLE]
    )


def test_a_component_already_running_is_not_waited_for(tmp_path: Path) -> None:
    assert _launch(tmp_path, {APISERVER, DATAPLANE}) == [
        f"start {APISERVER}",
        f"ready {APISERVER}",
        f"start {DATAPLANE}",
        f"ready {DATAPLANE}",
    ]


def test_components_that_wait_for_each_other_are_refused(tmp_path: Path) -> None:
    looped = [
        Component(
            "a", "a", TABLE[0].command, ready=TABLE[0].ready, timeout_seconds=1, after=("b",)
        ),
        Component(
            "b", "b", TABLE[0].command, ready=TABLE[0].ready, timeout_seconds=1, after=("a",)
        ),
    ]
    with pytest.raises(ComponentFailedError, match="a, b wait for each other"):
        Recording(tmp_path)._launch(PlatformState(), site=None, needed=looped, log=print)  # type: ignore[arg-type]
