"""A slice filter evaluated over a logged row puts it in the slice exactly when DuckDB, which
judged the slice at training, would: checked against DuckDB itself on generated filters and rows
with nulls, including SQL's three-valued logic."""

from __future__ import annotations

from typing import Any

import duckdb
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from paved.api.slice_filters import parse, to_sql
from paved.core.slice_membership import member

NUMBERS = st.sampled_from(["0", "1", "2", "2.5", "-1", "10"])
TEXTS = st.sampled_from(["'DE'", "'FR'", "'65+'", "''"])


def _atoms() -> st.SearchStrategy[str]:
    number_column = st.sampled_from(["x", "y"])
    comparison = st.sampled_from(["=", "<>", "!=", "<", "<=", ">", ">="])
    return st.one_of(
        st.builds(lambda c, o, n: f"{c} {o} {n}", number_column, comparison, NUMBERS),
        st.builds(lambda o: f"x {o} y", comparison),
        st.builds(lambda o, t: f"s {o} {t}", comparison, TEXTS),
        st.builds(
            lambda c, items, negated: f"{c} {'NOT ' if negated else ''}IN ({', '.join(items)})",
            number_column,
            st.lists(st.one_of(NUMBERS, st.just("NULL")), min_size=1, max_size=3),
            st.booleans(),
        ),
        st.builds(
            lambda items, negated: f"s {'NOT ' if negated else ''}IN ({', '.join(items)})",
            st.lists(TEXTS, min_size=1, max_size=3),
            st.booleans(),
        ),
        st.builds(
            lambda c, lo, hi, negated: f"{c} {'NOT ' if negated else ''}BETWEEN {lo} AND {hi}",
            number_column,
            NUMBERS,
            NUMBERS,
            st.booleans(),
        ),
        st.builds(
            lambda c, negated: f"{c} IS {'NOT ' if negated else ''}NULL",
            st.sampled_from(["x", "y", "s", "b"]),
            st.booleans(),
        ),
        st.sampled_from(["b", "b = TRUE", "b <> FALSE", "x = NULL"]),
    )


FILTERS = st.recursive(
    _atoms(),
    lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) AND ({b})", inner, inner),
        st.builds(lambda a, b: f"({a}) OR ({b})", inner, inner),
        st.builds(lambda a: f"NOT ({a})", inner),
    ),
    max_leaves=6,
)
ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "x": st.one_of(st.none(), st.integers(-2, 11)),
            "y": st.one_of(st.none(), st.sampled_from([-1.0, 0.0, 1.0, 2.0, 2.5, 3.5])),
            "s": st.one_of(st.none(), st.sampled_from(["DE", "FR", "65+", ""])),
            "b": st.one_of(st.none(), st.booleans()),
        }
    ),
    min_size=1,
    max_size=12,
)
SCHEMA = pa.schema([("x", pa.int64()), ("y", pa.float64()), ("s", pa.string()), ("b", pa.bool_())])


# One in-memory DuckDB for every example: opening one costs more than a query.
DUCKDB = duckdb.connect()


def _duckdb_members(text: str, rows: list[dict[str, Any]]) -> list[bool]:
    table = pa.Table.from_pylist(rows, schema=SCHEMA)
    DUCKDB.register("validation", table)
    query = f"SELECT coalesce({to_sql(parse(text))}, false) FROM validation"
    return [bool(v) for (v,) in DUCKDB.sql(query).fetchall()]


@settings(max_examples=200, deadline=None)
@given(text=FILTERS, rows=ROWS)
def test_a_row_is_in_a_slice_exactly_when_duckdb_puts_it_there(
    text: str, rows: list[dict[str, Any]]
) -> None:
    expression = parse(text)

    assert [member(expression, row) for row in rows] == _duckdb_members(text, rows)


def test_a_comparison_with_a_missing_value_is_unknown_and_so_out_of_the_slice() -> None:
    young = parse("tenure_days < 180")
    not_young = parse("NOT (tenure_days < 180)")

    assert member(young, {"tenure_days": 30})
    assert not member(young, {"tenure_days": None})
    assert not member(not_young, {"tenure_days": None})  # NOT unknown is still unknown
    assert not member(young, {})  # a feature the log does not hold


def test_values_of_another_kind_never_match_by_a_guessed_cast() -> None:
    assert not member(parse("country = 'DE'"), {"country": 1})
    assert not member(parse("tenure_days < 180"), {"tenure_days": "30"})
