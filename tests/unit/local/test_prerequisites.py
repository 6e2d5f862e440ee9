from __future__ import annotations

from pathlib import Path

import pytest

from paved_local.errors import PrerequisiteMissingError
from paved_local.platform import check_system_prerequisites
from paved_local.toolchain import ARGOCD_MINIMUM_GO, ARGOCD_VERSION, check_go, ensure_argocd


def test_missing_go_is_named_with_the_version_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(PrerequisiteMissingError, match=r"Go is not installed.*Go 1\.26 or newer"):
        check_go()


def test_missing_system_packages_are_named_together(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(
        PrerequisiteMissingError, match=r"redis-server, prometheus.*apt-get install redis-server"
    ):
        check_system_prerequisites()


def test_a_go_older_than_argo_cds_go_line_is_named_before_building(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake = tmp_path / "bin"
    fake.mkdir()
    go = fake / "go"
    go.write_text("#!/bin/sh\necho go version go1.24.9 linux/amd64\n")
    go.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake))
    with pytest.raises(
        PrerequisiteMissingError,
        match=rf"go1\.24\.9 .* too old to build Argo CD {ARGOCD_VERSION}: "
        rf"install Go {ARGOCD_MINIMUM_GO[0]}\.{ARGOCD_MINIMUM_GO[1]}",
    ):
        ensure_argocd(tmp_path / "cache")
    assert not (tmp_path / "cache").exists()
