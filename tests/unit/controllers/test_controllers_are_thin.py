"""Controllers stay thin: the core decides, a handler reads, acts and writes. A function that
outgrows a screen is deciding something the core should."""

from __future__ import annotations

import ast
from pathlib import Path

import paved.controllers

MAX_LINES = 40


def function_lengths() -> dict[str, int]:
    """Every function in `paved.controllers`, nested ones too, by module and name: its lines
    from `def` (decorators aside) to its last statement."""
    root = Path(paved.controllers.__file__).parent
    lengths = {}
    for module in sorted(root.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                end = node.end_lineno or node.lineno
                lengths[f"{module.stem}.{node.name}:{node.lineno}"] = end - node.lineno + 1
    return lengths


def test_the_walk_sees_the_handlers() -> None:
    names = {name.split(":")[0] for name in function_lengths()}
    assert {"rollout.progress_rollout", "model_version.train_and_promote"} <= names


def test_no_function_in_the_controllers_is_longer_than_a_screen() -> None:
    too_long = {name: n for name, n in function_lengths().items() if n > MAX_LINES}
    assert too_long == {}, f"over {MAX_LINES} lines: {too_long}"
