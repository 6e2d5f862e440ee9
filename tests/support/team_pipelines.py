"""Team pipelines that break the pipeline contract, as a team might write them by mistake."""

from __future__ import annotations

from typing import Final

# A package whose pipeline returns a model but no `evaluation` output (ADR 0037).
NO_EVALUATION: Final = """
from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output


@dsl.component(base_image="python:3.11", install_kfp_package=False)
def fit(training_set: Input[Dataset], model: Output[Model]):
    pass


@dsl.pipeline(name="no-evaluation")
def no_evaluation(training_set: Input[Dataset]) -> Model:
    return fit(training_set=training_set).outputs["model"]
"""
