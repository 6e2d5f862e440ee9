"""`python -m paved` is the `paved` command: its arguments reach the command line parser."""

from __future__ import annotations

import runpy

import pytest


def test_python_m_paved_passes_its_arguments_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Before, `python -m paved operator --namespace=x` ran a cluster-wide operator on the
    # default ports: every argument was dropped.
    monkeypatch.setattr("sys.argv", ["python -m paved", "operator", "--no-such-flag"])
    with pytest.raises(SystemExit) as exited:
        runpy.run_module("paved", run_name="__main__")
    assert exited.value.code == 2
    refused = capsys.readouterr().err
    assert "No such option '--no-such-flag'" in refused
    assert "Usage: paved operator" in refused
