"""Entity keys as an online read takes them: plain `int` or `str`, of the type the source keys by.

Pure. A pandas column hands out numpy scalars (`numpy.int64`, `numpy.str_`); they become the
Python value they equal. A key of the wrong type is refused, naming the entity, the join key and
the type it must have: the string "1" for an integer key would otherwise read as an entity never
written (`notFound`), since the online key tells 1 and "1" apart. A bool, a float or anything
else is never a key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from numbers import Integral
from typing import Any

from paved.core.feature_views import ViewDefinition


class KeyType(StrEnum):
    """What a join key's values are, as the view's source files store them."""

    INTEGER = "integer"
    STRING = "string"


_PLAIN: dict[KeyType, type] = {KeyType.INTEGER: int, KeyType.STRING: str}


def normalised_rows(
    rows: Sequence[Mapping[str, Any]],
    views: Sequence[ViewDefinition],
    key_types: Mapping[tuple[str, str], KeyType],
) -> list[Mapping[str, Any]]:
    """`rows` with each join key of `views` as a plain int or str; TypeError names the first key
    that is neither, or that is not of its `key_types[(view name, key)]` (when known)."""
    checks = {
        key: (view, key_types.get((view.name, key))) for view in views for key in view.join_keys
    }
    normalised: list[Mapping[str, Any]] = []
    for index, row in enumerate(rows):
        changed: dict[str, Any] | None = None
        for key, (view, expected) in checks.items():
            value = row.get(key)
            if value is None and key not in row:
                raise KeyError(f"entity row {index} lacks join key {key!r} of {view.name}")
            plain = _plain(value)
            if plain is None or (expected is not None and type(plain) is not _PLAIN[expected]):
                raise TypeError(_refusal(index, key, value, view, expected))
            if plain is not value:
                changed = changed if changed is not None else dict(row)
                changed[key] = plain
        normalised.append(row if changed is None else changed)
    return normalised


def _plain(value: object) -> int | str | None:
    """The plain int or str `value` equals (numpy's scalars included), else None."""
    kind = type(value)
    if kind is int or kind is str:
        return value  # type: ignore[return-value]  # the usual case, checked first
    if isinstance(value, bool) or kind.__name__ == "bool_":
        return None
    if isinstance(value, Integral):
        return int(value)
    if isinstance(value, str):
        return str(value)
    return None


def _refusal(
    index: int, key: str, value: object, view: ViewDefinition, expected: KeyType | None
) -> str:
    must = f"an {expected.value}" if expected is KeyType.INTEGER else "a string"
    if expected is None:
        must = "an integer or a string"
    return (
        f"entity row {index}: join key {key!r} of entity {view.entity!r} (FeatureView"
        f" {view.name}) must be {must}, not {value!r} ({type(value).__name__})"
    )
