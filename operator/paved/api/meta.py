"""Types every kind shares: durations, conditions, and the base for specs and statuses.

Field names are camelCase on the wire (Kubernetes convention) and snake_case in Python.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic.config import JsonDict

GROUP: Final = "paved.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

# Go-style durations plus days, never negative: "90s", "10m", "1h30m", "7d", "250ms". At most
# five parts of at most six digits each: 5 times 999999d is about 13,700 years, so no duration the
# schema admits overflows a Python timedelta (999,999,999 days) or the stores' timestamps.
DURATION_PATTERN: Final = r"^([0-9]{1,6}(\.[0-9]{1,9})?(ms|s|m|h|d)){1,5}$"
DURATION_MAX_LENGTH: Final = 64
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_SECONDS: Final = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# Prometheus's own duration syntax, for what goes into a range selector `[...]`: whole numbers,
# units from the largest down, each at most once ("1h30m", never "1.5h" or "30m1h").
PROMETHEUS_DURATION_PATTERN: Final = (
    r"^([0-9]{1,6}d)?([0-9]{1,6}h)?([0-9]{1,6}m)?([0-9]{1,6}s)?([0-9]{1,6}ms)?$"
)


def parse_duration(text: str) -> dt.timedelta:
    """`"1h30m"` → 90 minutes. The API server has already checked the pattern."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(
            f"{text[:80]!r} is not a duration such as 30s, 10m, 1h30m or 7d"
            " (at most five parts of at most six digits each)"
        )
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in _DURATION_PART.findall(text))
    return dt.timedelta(seconds=seconds)


def _longer_than_zero(text: str) -> str:
    if parse_duration(text) <= dt.timedelta(0):
        raise ValueError(f"{text!r} must be longer than zero")
    return text


# A digit other than 0 somewhere: the duration is not zero. (RE2, which the API server's
# patterns use, has no lookahead, so this is a CEL rule beside the pattern.)
_NOT_ZERO: Final[JsonDict] = {
    "rule": "self.matches('[1-9]')",
    "message": "must be longer than zero",
}

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=DURATION_MAX_LENGTH,
        json_schema_extra={"example": "10m"},
        description="A duration such as 250ms, 30s, 10m, 1h30m or 7d.",
    ),
]
# A duration that must be longer than zero: how long a step lasts, how often to look.
PositiveDuration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=DURATION_MAX_LENGTH,
        json_schema_extra={"example": "10m", "x-kubernetes-validations": [_NOT_ZERO]},
        description="A duration longer than zero, such as 250ms, 30s, 10m, 1h30m or 7d.",
    ),
    AfterValidator(_longer_than_zero),
]

# Go durations (no days), for what the admission policies add up with CEL's duration().
GO_DURATION_PATTERN: Final = r"^([0-9]{1,6}(\.[0-9]{1,9})?(ms|s|m|h)){1,5}$"
GoDuration = Annotated[
    str,
    Field(
        pattern=GO_DURATION_PATTERN,
        max_length=DURATION_MAX_LENGTH,
        description="A duration such as 250ms, 30s, 10m or 1h30m (no days: write 24h).",
    ),
]
PositiveGoDuration = Annotated[
    str,
    Field(
        pattern=GO_DURATION_PATTERN,
        max_length=DURATION_MAX_LENGTH,
        json_schema_extra={"x-kubernetes-validations": [_NOT_ZERO]},
        description="A duration longer than zero, such as 30s, 10m or 1h30m (no days: 24h).",
    ),
    AfterValidator(_longer_than_zero),
]


def _prometheus_range(text: str) -> str:
    if not re.fullmatch(PROMETHEUS_DURATION_PATTERN, text) or not re.search("[1-9]", text):
        raise ValueError(f"{text!r} is not a range Prometheus reads, such as 1m, 5m or 1h30m")
    return text


# A range Prometheus can parse and that is longer than zero: `rate(x[<this>])`.
PrometheusRange = Annotated[
    str,
    Field(
        min_length=2,
        max_length=DURATION_MAX_LENGTH,
        pattern=PROMETHEUS_DURATION_PATTERN,
        json_schema_extra={
            "example": "1m",
            "x-kubernetes-validations": [
                {
                    "rule": "self.matches('[1-9]')",
                    "message": "must be a range longer than zero, such as 1m, 5m or 1h30m",
                }
            ],
        },
        description=(
            "A Prometheus range such as 30s, 1m or 1h30m: whole numbers, the largest unit"
            " first (d, h, m, s, ms)."
        ),
    ),
    AfterValidator(_prometheus_range),
]

# What the operator writes into status: text it did not choose (a reader's error, a path, a
# query's message) is cut to the field's maximum length with a marker, never refused, so a
# status write cannot fail on the length of what it reports.
TRUNCATED_MARKER: Final = " …[truncated: {} characters in all]"


def truncate(text: str, limit: int) -> str:
    """`text` if it fits in `limit` characters, else its start and a marker saying so."""
    if len(text) <= limit:
        return text
    marker = TRUNCATED_MARKER.format(len(text))
    if len(marker) >= limit:
        return text[:limit]
    return text[: limit - len(marker)] + marker


def _fitted(limit: int) -> Callable[[Any], Any]:
    def fit(value: Any) -> Any:
        return truncate(value, limit) if isinstance(value, str) else value

    return fit


MESSAGE_MAX_LENGTH: Final = 32768  # metav1.Condition's message
NAME_MAX_LENGTH: Final = 253
SHORT_TEXT_MAX_LENGTH: Final = 1024
# Status strings: a longer value is truncated with a marker, never refused.
Message = Annotated[
    str, BeforeValidator(_fitted(MESSAGE_MAX_LENGTH)), Field(max_length=MESSAGE_MAX_LENGTH)
]
RecordedName = Annotated[
    str, BeforeValidator(_fitted(NAME_MAX_LENGTH)), Field(max_length=NAME_MAX_LENGTH)
]
ShortText = Annotated[
    str, BeforeValidator(_fitted(SHORT_TEXT_MAX_LENGTH)), Field(max_length=SHORT_TEXT_MAX_LENGTH)
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
        # JSON has no NaN or Infinity (the API server refuses a patch that carries one): no
        # model, spec or status, may hold a non-finite float.
        allow_inf_nan=False,
    )


class Condition(Model):
    """A Kubernetes condition (metav1.Condition): the latest observation of one aspect."""

    type: str = Field(pattern=r"^[A-Z][A-Za-z]*$", max_length=316)
    status: Literal["True", "False", "Unknown"]
    reason: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", max_length=1024)
    message: Message = ""
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
    """A field whose shape the schema leaves open (status only: what the operator recorded)."""
    return Field(
        default_factory=dict,
        description=description,
        json_schema_extra={"x-kubernetes-preserve-unknown-fields": True},
    )


SCALAR_MAX_LENGTH: Final = 1024
# One value of a flat map: a number, a string, a boolean or null, never a list or a map.
Scalar = bool | int | float | Annotated[str, Field(max_length=SCALAR_MAX_LENGTH)] | None


def _keys_at_most(limit: int) -> Callable[[Mapping[str, Any]], Mapping[str, Any]]:
    def check(values: Mapping[str, Any]) -> Mapping[str, Any]:
        long = [key for key in values if not 0 < len(key) <= limit]
        if long:
            raise ValueError(f"keys must be 1 to {limit} characters long: {long[0][:80]!r}")
        return values

    return check


def flat_map(description: str, *, max_entries: int) -> Any:
    """A map of scalars (ADR: free-form values are flat). The API server refuses a list or a map
    as a value (`maxItems`/`maxProperties` 0 on an untyped value), so nothing nests: a golden
    case 600 levels deep is refused at `kubectl apply`, never met by the operator."""
    return Field(
        default_factory=dict,
        description=description,
        max_length=max_entries,
        json_schema_extra={
            "additionalProperties": {
                "x-kubernetes-preserve-unknown-fields": True,
                "maxProperties": 0,
                "maxItems": 0,
                "maxLength": SCALAR_MAX_LENGTH,
            },
        },
    )


# The Python side of `flat_map`: scalars only. Golden inputs are keyed by feature names;
# parameter names are MLflow's (at most 250 characters).
FeatureRow = Annotated[dict[str, Scalar], AfterValidator(_keys_at_most(128))]
ParameterMap = Annotated[dict[str, Scalar], AfterValidator(_keys_at_most(250))]


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
