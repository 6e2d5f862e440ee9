"""The repository's shape is part of the contract: source roots are not packages."""

from __future__ import annotations

import operator
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_operator_source_root_is_not_a_package() -> None:
    # An operator/__init__.py would shadow the standard library's `operator` module.
    assert not (ROOT / "operator" / "__init__.py").exists()
    assert not (ROOT / "pipelines" / "__init__.py").exists()
    assert not (ROOT / "platform" / "__init__.py").exists()
    assert Path(operator.__file__ or "").parent != ROOT / "operator"


def test_required_top_level_entries_exist() -> None:
    required = [
        "operator/paved/__init__.py",
        "pipelines/paved_pipelines/__init__.py",
        "platform/paved_local/__init__.py",
        "platform/pyproject.toml",
        "crds",
        "charts",
        "tests",
        "kind-config.yaml",
        "pyproject.toml",
        "uv.lock",
        "Makefile",
        "README.md",
        "CHANGELOG.md",
        "docs/architecture.md",
        ".ci/run",
    ]
    assert [entry for entry in required if not (ROOT / entry).exists()] == []


def test_every_make_target_has_a_help_line() -> None:
    targets = re.findall(r"^([a-z][a-z0-9-]*):(?!=)(.*)$", (ROOT / "Makefile").read_text(), re.M)
    undocumented = [name for name, rest in targets if "##" not in rest]
    assert targets
    assert undocumented == []


def test_readme_opens_with_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"^\s*(make \w+)\s*$", readme, re.M)
    assert commands[:2] == ["make demo", "make test"]
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_the_operator_image_copies_no_platform_code() -> None:
    # The embedded platform, its data plane and the demo are `paved-local`: the image gets
    # the workspace's manifest of it (uv reads it) and nothing else from platform/.
    dockerfile = (ROOT / "operator" / "Dockerfile").read_text()
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", dockerfile, re.M)
    sources = [path for line in copied for path in line.split()]
    assert [path for path in sources if path.startswith("platform")] == ["platform/pyproject.toml"]
    # A RUN may mount the build's secrets and caches on continued lines before its command.
    runs = re.findall(r"^RUN (?:.*\\\n)*.*$", dockerfile, re.M)
    syncs = [run for run in runs if "uv sync" in run]
    assert syncs
    assert all("--package paved" in sync for sync in syncs)
