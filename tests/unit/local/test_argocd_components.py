"""Argo CD's rows of the platform: started only when asked for, after what they read, with the
argocd-cm that paved ships."""

from __future__ import annotations

from pathlib import Path

import yaml

from paved_local import argocd
from paved_local.components import APISERVER, REDIS, TABLE
from paved_local.platform import ComponentState, LocalPlatform, PlatformState

ROOT = Path(__file__).resolve().parents[3]


def test_argo_cd_waits_for_the_api_server_redis_and_its_repo_server() -> None:
    seen = {component.name for component in TABLE}
    for component in argocd.TABLE:
        assert set(component.after) | set(component.restarts_with) <= seen, component.name
        seen.add(component.name)
    controller = argocd.TABLE[-1]
    assert controller.name == argocd.APPLICATION_CONTROLLER
    assert set(controller.after) == {APISERVER, REDIS, argocd.REPO_SERVER}


def test_argo_cd_is_started_only_when_asked_for(tmp_path: Path) -> None:
    platform = LocalPlatform(tmp_path)
    without = platform._needed(PlatformState(), None)
    assert not {c.name for c in without} & set(argocd.COMPONENTS)
    with_argocd = platform._needed(PlatformState(), None, TABLE + argocd.TABLE)
    assert [c.name for c in with_argocd][-3:] == list(argocd.COMPONENTS)


def test_argocd_cm_is_the_shipped_patch_with_the_label_argo_cd_watches() -> None:
    shipped = yaml.safe_load((ROOT / "deploy" / "argocd" / "argocd-cm-patch.yaml").read_text())
    namespace, config_map, secret, project = argocd._objects()
    assert namespace["metadata"] == {"name": argocd.NAMESPACE}
    assert config_map["data"] == shipped["data"]
    assert config_map["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
    assert secret["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}
    assert project["metadata"]["name"] == "default"


def test_status_lists_argo_cd_only_while_it_is_started(tmp_path: Path) -> None:
    platform = LocalPlatform(tmp_path)
    state = PlatformState(ports={argocd.GIT_DAEMON: 1, APISERVER: 2})
    platform._save(state)
    assert argocd.GIT_DAEMON not in {row.name for row in platform.status()}
    state.components[argocd.GIT_DAEMON] = ComponentState(pid=2**22 + 1, executable="git")
    platform._save(state)
    shown = {row.name: row for row in platform.status()}
    assert shown[argocd.GIT_DAEMON].running is False
