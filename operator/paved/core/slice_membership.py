"""Whether a row is in a slice: a slice filter's parsed tree (`api/slice_filters`) evaluated over
one row of values as SQL evaluates it, so a monitor judges a slice on logged predictions with
the rows a training run's DuckDB put in it.

SQL's three-valued logic: a comparison with a null is unknown, NOT unknown is unknown, AND is
false if any term is and unknown if any is, OR the other way round, and a row whose filter is
unknown is not in the slice (the training run's `coalesce(..., false)`). Values compare only with
their own kind (numbers with numbers, text with text, booleans with booleans): a comparison
across kinds is unknown rather than a guess at SQL's implicit casts.

Pure.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any, Final, assert_never

from paved.api.slice_filters import (
    And,
    Between,
    Boolean,
    Column,
    Compare,
    Comparison,
    Expression,
    In,
    IsNull,
    Not,
    Null,
    Number,
    Operand,
    Or,
    String,
)

Truth = bool | None  # None: SQL's unknown
Row = Mapping[str, Any]

_OPERATORS: Final[dict[Comparison, Callable[[Any, Any], bool]]] = {
    Comparison.EQ: operator.eq,
    Comparison.NE: operator.ne,
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
}


def member(expression: Expression, row: Row) -> bool:
    """Whether `row` is in the slice: its filter is true (unknown is not)."""
    return truth(expression, row) is True


def truth(expression: Expression, row: Row) -> Truth:
    match expression:
        case Compare(op=op, left=left, right=right):
            return compare(op, value(left, row), value(right, row))
        case In(operand=operand, items=items, negated=negated):
            return _negated(_in(value(operand, row), [value(i, row) for i in items]), negated)
        case Between(operand=operand, low=low, high=high, negated=negated):
            found = value(operand, row)
            within = _and(
                [
                    compare(Comparison.GE, found, value(low, row)),
                    compare(Comparison.LE, found, value(high, row)),
                ]
            )
            return _negated(within, negated)
        case IsNull(operand=operand, negated=negated):
            return (value(operand, row) is None) != negated
        case And(terms=terms):
            return _and([truth(t, row) for t in terms])
        case Or(terms=terms):
            return _or([truth(t, row) for t in terms])
        case Not(term=term):
            return _negated(truth(term, row), True)
        case Column() | Number() | String() | Boolean() | Null():
            found = value(expression, row)
            return found if isinstance(found, bool) else None
        case _:
            assert_never(expression)


def value(operand: Operand, row: Row) -> Any:
    match operand:
        case Column(name=name):
            return row.get(name)
        case Number(text=text):
            return float(text) if any(c in text for c in ".eE") else int(text)
        case String(value=text):
            return text
        case Boolean(value=flag):
            return flag
        case Null():
            return None
        case _:
            assert_never(operand)


def compare(op: Comparison, left: Any, right: Any) -> Truth:
    """SQL's comparison: unknown with a null or across kinds."""
    if left is None or right is None or _kind(left) != _kind(right) or _kind(left) is None:
        return None
    return _OPERATORS[op](left, right)


def _kind(found: Any) -> str | None:
    if isinstance(found, bool):
        return "boolean"
    if isinstance(found, int | float):
        return "number"
    if isinstance(found, str):
        return "text"
    return None


def _in(found: Any, items: list[Any]) -> Truth:
    matches = [compare(Comparison.EQ, found, item) for item in items]
    return _or(matches)


def _and(terms: list[Truth]) -> Truth:
    if any(t is False for t in terms):
        return False
    return None if any(t is None for t in terms) else True


def _or(terms: list[Truth]) -> Truth:
    if any(t is True for t in terms):
        return True
    return None if any(t is None for t in terms) else False


def _negated(found: Truth, negated: bool) -> Truth:
    return found if found is None or not negated else not found
