from __future__ import annotations

import pytest

from paved_local.errors import PrerequisiteMissingError
from paved_local.platform import check_system_prerequisites
from paved_local.toolchain import check_go


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
