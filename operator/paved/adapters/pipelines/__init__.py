"""Pipeline runners: KFP local (embedded default) and the KFP API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from paved.errors import PermanentError

T = TypeVar("T")


def built_in(pipelines: Mapping[str, T], name: str) -> T:
    """A runner's entry for the built-in pipeline `name`, or why there is none: a spec naming
    a pipeline this build lacks is wrong until it changes, so the error is permanent."""
    found = pipelines.get(name)
    if found is None:
        known = ", ".join(sorted(pipelines))
        raise PermanentError(
            f"unknown pipeline {name!r} in spec.pipeline.name; known pipelines: {known}",
            reason="UnknownPipeline",
        )
    return found
