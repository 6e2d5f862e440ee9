"""Compile the pipelines to KFP v2 IR YAML (`make pipelines`); a test recompiles and diffs."""

from __future__ import annotations

from pathlib import Path

from kfp import compiler

from paved_pipelines.training import PIPELINE_NAME, tabular_classifier

COMPILED = Path(__file__).resolve().parent / "compiled"


def compiled_path(name: str = PIPELINE_NAME) -> Path:
    return COMPILED / f"{name}.yaml"


def compile_all(destination: Path = COMPILED) -> list[Path]:
    destination.mkdir(parents=True, exist_ok=True)
    path = destination / f"{PIPELINE_NAME}.yaml"
    compiler.Compiler().compile(tabular_classifier, str(path))
    return [path]


if __name__ == "__main__":
    for written in compile_all():
        print(f"wrote {written}")
