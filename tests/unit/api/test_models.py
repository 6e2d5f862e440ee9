"""The models accept what users write (the examples) and speak the API's camelCase."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from paved.api.crds import KINDS, openapi_schema
from paved.api.feature_view import FeatureViewSpec
from paved.api.meta import MESSAGE_MAX_LENGTH, parse_duration, truncate
from paved.api.model_version import ModelVersionSpec
from paved.api.rollout import RolloutSpec, RolloutStatus

ROOT = Path(__file__).resolve().parents[3]
SPECS: dict[str, type[BaseModel]] = {kind.kind: kind.spec for kind in KINDS}


def _examples() -> list[dict[str, Any]]:
    """paved's kinds among the examples (beside them: the SeldonDeployment they roll out on)."""
    return [
        document
        for path in sorted((ROOT / "examples").glob("*.yaml"))
        for document in yaml.safe_load_all(path.read_text())
        if document["apiVersion"].startswith("paved.dev/")
    ]


@pytest.mark.parametrize("example", _examples(), ids=lambda e: e["metadata"]["name"])
def test_every_example_spec_parses_with_its_model(example: dict[str, Any]) -> None:
    spec = SPECS[example["kind"]].model_validate(example["spec"])
    assert spec.model_dump(by_alias=True, exclude_unset=True) == example["spec"]


def test_examples_cover_every_kind() -> None:
    assert {e["kind"] for e in _examples()} == set(SPECS)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("250ms", 0.25), ("30s", 30), ("10m", 600), ("1h30m", 5400), ("7d", 604800), ("0s", 0)],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["-5m", "5", "7 days", "1w", ""])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)


def test_unknown_fields_are_refused_by_the_models_too() -> None:
    with pytest.raises(ValidationError, match="everySoOften"):
        FeatureViewSpec.model_validate(
            {
                "entity": {"name": "user", "joinKeys": ["user_id"]},
                "source": {"path": "a.parquet", "timestampField": "ts"},
                "features": [{"name": "clicks", "dtype": "float64"}],
                "everySoOften": True,
            }
        )


def test_schemas_are_structural() -> None:
    """No $ref, anyOf or null types survive: the API server accepts only structural schemas."""

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            assert not {"$ref", "anyOf", "oneOf", "allOf", "$defs"} & node.keys()
            assert node.get("type") != "null"
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for kind in KINDS:
        walk(openapi_schema(kind.spec))
        walk(openapi_schema(kind.status))


def test_step_kinds_are_camel_case_on_the_wire() -> None:
    spec = RolloutSpec.model_validate(
        {
            "candidate": "churn-v2",
            "target": {"seldonDeployment": {"name": "churn"}},
            "steps": [{"abTest": {"metric": "conversion", "minimumDetectableEffect": 0.01}}],
        }
    )
    assert spec.steps[0].ab_test is not None
    assert "abTest" in spec.model_dump(by_alias=True)["steps"][0]


def test_a_duration_that_would_overflow_a_timedelta_is_not_a_duration() -> None:
    """99999999999d is past what a timedelta holds: the pattern refuses it before any parse."""
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration("99999999999d")
    assert parse_duration("999999d999999d999999d999999d999999d").days == 4_999_995


def test_status_text_past_its_max_length_is_truncated_with_a_marker_never_refused() -> None:
    status = RolloutStatus(message="x" * 40_000)
    assert status.message is not None
    assert len(status.message) == MESSAGE_MAX_LENGTH
    assert status.message.endswith("…[truncated: 40000 characters in all]")
    assert truncate("short", 10) == "short"


def test_golden_inputs_and_parameters_are_flat_maps_of_scalars() -> None:
    document = yaml.safe_load((ROOT / "examples" / "02-modelversion.yaml").read_text())["spec"]
    ModelVersionSpec.model_validate(document)
    document["gates"]["golden"][0]["features"]["clicks_7d"] = {"a": {"b": 1}}
    with pytest.raises(ValidationError, match="golden"):
        ModelVersionSpec.model_validate(document)
