"""SeldonDeployments as the tests write them: one object, its predictors each a model URI."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def predictor(
    name: str,
    model_uri: str,
    *,
    traffic: int = 100,
    shadow: bool = False,
    annotations: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """One predictor serving `model_uri` (a graph of one model, as paved writes them)."""
    found: dict[str, Any] = {
        "name": name,
        "traffic": traffic,
        "graph": {"name": "classifier", "modelUri": model_uri},
    }
    if shadow:
        found["shadow"] = True
    if annotations:
        found["annotations"] = dict(annotations)
    return found


def seldon_deployment(name: str, *predictors: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "machinelearning.seldon.io/v1",
        "kind": "SeldonDeployment",
        "metadata": {"name": name},
        "spec": {"predictors": list(predictors)},
    }
