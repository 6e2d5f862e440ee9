"""Hypothesis strategies for resources the CRD schemas admit, built from the rendered schemas
themselves (`paved.api.crds.openapi_schema`), so they follow every bound the API server checks
(types, enums, patterns, lengths, ranges, item counts, flat maps). Of the CEL rules they follow
the ones that shape the object (one kind per step, builtin xor query); the rest are left to
chance, and a handler must cope with what it is handed anyway."""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from hypothesis import strategies as st

# A path the strategies draw for `path` fields: relative, in the data root. Where a path may
# lead is another check's business; here it must not send a glob through the whole disk.
_PATH = r"[a-z0-9_]{1,12}(/[a-z0-9_*]{1,12}){0,3}(\.parquet)?"
_NOT_ZERO = re.compile("[1-9]")
_SHORT = 24  # longest generated free text, beside the longest the schema allows
_ITEMS = 3  # most items generated per list

Strategy = st.SearchStrategy[Any]


def from_schema(node: dict[str, Any], name: str = "") -> Strategy:
    """Values `node` admits."""
    if "enum" in node:
        return st.sampled_from(node["enum"])
    if node.get("x-kubernetes-preserve-unknown-fields") and "type" not in node:
        return _scalars(node.get("maxLength", _SHORT))
    match node.get("type"):
        case "string":
            return _string(node, name)
        case "integer":
            return st.integers(node.get("minimum", -(2**31)), node.get("maximum", 2**31 - 1))
        case "number":
            return _number(node)
        case "boolean":
            return st.booleans()
        case "array":
            return _array(node, name)
        case _:
            return _object(node)


def _scalars(max_length: int) -> Strategy:
    longest = st.just("v" * max_length)
    return st.none() | st.booleans() | st.integers() | _finite() | st.text(max_size=8) | longest


def _finite(low: float | None = None, high: float | None = None, **exclusive: bool) -> Strategy:
    return st.floats(low, high, allow_nan=False, allow_infinity=False, **exclusive)


def _string(node: dict[str, Any], name: str) -> Strategy:
    if node.get("format") == "date-time":
        # Hypothesis wants naive bounds and puts the time zone on the values.
        earliest, latest = dt.datetime(2020, 1, 1), dt.datetime(2030, 1, 1)  # noqa: DTZ001
        moments = st.datetimes(earliest, latest, st.just(dt.UTC))
        return moments.map(dt.datetime.isoformat)
    low, high = node.get("minLength", 0), node.get("maxLength", _SHORT)
    if name == "path":
        text = st.from_regex(_PATH, fullmatch=True)
    elif "pattern" in node:
        text = st.from_regex(node["pattern"], fullmatch=True)
    else:
        longest = st.just("x" * high) if high > _SHORT else st.nothing()
        text = st.text(min_size=max(low, 1), max_size=min(high, _SHORT)) | longest
    rules = [r["rule"] for r in node.get("x-kubernetes-validations", [])]
    not_zero = "self.matches('[1-9]')" in rules  # a duration longer than zero
    return text.filter(lambda s: low <= len(s) <= high and (not not_zero or _NOT_ZERO.search(s)))


def _number(node: dict[str, Any]) -> Strategy:
    low, high = node.get("minimum"), node.get("maximum")
    above, below = bool(node.get("exclusiveMinimum")), bool(node.get("exclusiveMaximum"))
    return _finite(low, high, exclude_min=above, exclude_max=below)


def _array(node: dict[str, Any], name: str) -> Strategy:
    items = from_schema(node.get("items", {}), name)
    low = node.get("minItems", 0)
    high = max(min(node.get("maxItems", _ITEMS), _ITEMS), low)
    match node.get("x-kubernetes-list-type"):
        case "set":
            return st.lists(items, min_size=low, max_size=high, unique=True)
        case "map":
            keys = node["x-kubernetes-list-map-keys"]
            return st.lists(
                items,
                min_size=low,
                max_size=high,
                unique_by=lambda i: tuple(i.get(k) for k in keys),
            )
    return st.lists(items, min_size=low, max_size=high)


def _object(node: dict[str, Any]) -> Strategy:
    properties: dict[str, dict[str, Any]] = node.get("properties") or {}
    free = node.get("x-kubernetes-preserve-unknown-fields") or "additionalProperties" in node
    if not properties and not free:
        return st.just({})  # an object with no fields, such as a `full` step
    if not properties:
        values = node.get("additionalProperties")
        scalars = from_schema(values) if isinstance(values, dict) else _scalars(_SHORT)
        keys = st.from_regex(r"[a-z_][a-z0-9_]{0,15}", fullmatch=True)
        return st.dictionaries(keys, scalars, max_size=min(node.get("maxProperties", 3), 3))
    rules = " ".join(r["rule"] for r in node.get("x-kubernetes-validations", []))
    if ".filter(k, k).size() == 1" in rules:  # a step: exactly one kind
        return st.one_of(
            [
                st.fixed_dictionaries({key: from_schema(child, key)})
                for key, child in properties.items()
            ]
        )
    required = set(node.get("required", []))
    if "has(self.builtin) != has(self.query)" in rules:  # a guardrail: builtin xor query
        return _object({**node, "x-kubernetes-validations": [], "required": ["builtin"]}).map(
            lambda g: {k: v for k, v in g.items() if k != "query"}
        ) | _object({**node, "x-kubernetes-validations": [], "required": ["query"]}).map(
            lambda g: {k: v for k, v in g.items() if k not in ("builtin", "maxMs")}
        )
    return st.fixed_dictionaries(
        {key: from_schema(child, key) for key, child in properties.items() if key in required},
        optional={
            key: from_schema(child, key) for key, child in properties.items() if key not in required
        },
    )


def schema_errors(value: Any, node: dict[str, Any], path: str = "") -> list[str]:
    """What the API server would refuse in `value` under the structural schema `node`: types,
    enums, patterns, lengths, ranges, counts, unknown fields, and numbers JSON cannot carry."""
    if value is None:
        return []  # an optional field left out (merge patches send null to remove)
    if "enum" in node:
        return [] if value in node["enum"] else [f"{path}: {value!r} not in {node['enum']}"]
    if node.get("x-kubernetes-preserve-unknown-fields") and "type" not in node:
        return _bounded(value, node, path)
    kind = node.get("type", "object")
    if not _is(value, kind):
        return [f"{path}: {value!r} is not of type {kind}"]
    errors = _bounded(value, node, path)
    if kind == "array":
        for i, item in enumerate(value):
            errors += schema_errors(item, node.get("items", {}), f"{path}[{i}]")
    elif kind == "object":
        properties = node.get("properties") or {}
        errors += [f"{path}.{k}: required" for k in node.get("required", []) if k not in value]
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], f"{path}.{key}")
            elif isinstance(node.get("additionalProperties"), dict):
                errors += schema_errors(item, node["additionalProperties"], f"{path}.{key}")
            elif not node.get("x-kubernetes-preserve-unknown-fields"):
                errors.append(f"{path}.{key}: unknown field")
    return errors


def _is(value: Any, kind: str) -> bool:
    match kind:
        case "string":
            return isinstance(value, str)
        case "integer":
            return isinstance(value, int) and not isinstance(value, bool)
        case "number":
            return isinstance(value, int | float) and not isinstance(value, bool)
        case "boolean":
            return isinstance(value, bool)
        case "array":
            return isinstance(value, list)
    return isinstance(value, dict)


def _bounded(value: Any, node: dict[str, Any], path: str) -> list[str]:
    errors = []
    if isinstance(value, float) and not math.isfinite(value):
        errors.append(f"{path}: {value} is not a JSON number")
    elif isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            errors.append(f"{path}: {value} < {node['minimum']}")
        if "maximum" in node and value > node["maximum"]:
            errors.append(f"{path}: {value} > {node['maximum']}")
    if isinstance(value, str):
        if len(value) > node.get("maxLength", len(value)):
            errors.append(f"{path}: {len(value)} characters > {node['maxLength']}")
        if "pattern" in node and not re.search(node["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {node['pattern']}")
    size = len(value) if isinstance(value, list | dict) else None
    if size is not None and size > node.get("maxItems", node.get("maxProperties", size)):
        errors.append(f"{path}: {size} items, more than the schema allows")
    return errors
