"""Types every kind shares: durations, conditions, and the base for specs and statuses.

Field names are camelCase on the wire (Kubernetes convention) and snake_case in Python.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP: Final = "paved.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

# Go-style durations plus days, never negative: "90s", "10m", "1h30m", "7d", "250ms".
DURATION_PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> dt.timedelta:
    """`"1h30m"` → 90 minutes. The API server has already checked the pattern."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"{text!r} is not a duration such as 30s, 10m, 1h30m or 7d")
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    return dt.timedelta(seconds=seconds)


Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        json_schema_extra={"example": "10m"},
        description="A duration such as 250ms, 30s, 10m, 1h30m or 7d.",
    ),
]

# A Kubernetes object name (RFC 1123 subdomain): what other resources refer to.
ObjectName = Annotated[
    str,
    Field(min_length=1, max_length=253, pattern=r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"),
]
# Column, feature and entity names: identifiers usable in SQL and Redis keys.
Identifier = Annotated[
    str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
]


def cel(rule: str, message: str, field_path: str | None = None) -> JsonDict:
    """One `x-kubernetes-validations` entry: a CEL rule the API server enforces."""
    entry: JsonDict = {"rule": rule, "message": message}
    if field_path is not None:
        entry["fieldPath"] = field_path
    return entry


class Model(BaseModel):
    """Base of every API object: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        use_enum_values=False,
    )


class Condition(Model):
    """A Kubernetes condition (metav1.Condition): the latest observation of one aspect."""

    type: str = Field(pattern=r"^[A-Z][A-Za-z]*$", max_length=316)
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=1024)
    message: str = Field(default="", max_length=32768)
    last_transition_time: dt.datetime
    observed_generation: int | None = Field(default=None, ge=0)


class Status(Model):
    """What every status has: the generation it reflects and its conditions."""

    observed_generation: int | None = Field(default=None, ge=0)
    conditions: list[Condition] = Field(
        default_factory=list,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    )


def section(model: type[Model], alias: str | None = None) -> Any:
    """An optional sub-object; the API server fills in its defaults even when it is left out."""
    return Field(default_factory=model, alias=alias, json_schema_extra={"default": {}})


def free_form(description: str) -> Any:
    """A field whose shape the schema leaves open (pipeline parameters, golden inputs)."""
    return Field(
        default_factory=dict,
        description=description,
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


def validated(*rules: JsonDict) -> ConfigDict:
    """The model's config plus CEL rules that the API server checks on the whole object."""
    return Model.model_config | ConfigDict(
        json_schema_extra={"x-kubernetes-validations": list(rules)}
    )


# Where a FeatureView's source or a ModelVersion's labels are: relative to the namespace's data
# root (<data root>/<namespace>/). The API server refuses the obvious escapes at apply time;
# the operator's resolver is the real guard (links, globs: `paved.core.data_paths`).
DataPath = Annotated[
    str,
    Field(
        min_length=1,
        max_length=1024,
        json_schema_extra={
            "x-kubernetes-validations": [
                cel(
                    "!self.startsWith('/')",
                    "must be relative to the namespace's data root, not an absolute path",
                ),
                cel(
                    "!(self == '..' || self.startsWith('../') || self.endsWith('/..')"
                    " || self.contains('/../'))",
                    "must not climb out of the namespace's data root with '..'",
                ),
            ]
        },
    ),
]
