"""Other distributions add verbs to `paved` by entry points; a broken one is named, not fatal."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import click
import pytest

from paved import cli


def test_installed_verbs_join_and_a_broken_one_is_named_not_fatal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = [
        EntryPoint("local", "paved_local.cli:local", "paved.commands"),
        EntryPoint("broken", "no_such_module_here:verb", "paved.commands"),
        EntryPoint("odd", "paved.settings:OperatorSettings", "paved.commands"),
    ]
    monkeypatch.setattr(
        cli, "entry_points", lambda *, group: found if group == "paved.commands" else []
    )
    group = click.Group()
    cli._add_installed_commands(group)
    assert sorted(group.commands) == ["local"]
    warned = capsys.readouterr().err
    assert "`paved broken` (no_such_module_here:verb) not loaded" in warned
    assert "`paved odd` (paved.settings:OperatorSettings) is not a command" in warned
