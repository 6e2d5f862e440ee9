"""Slice filters are a small language: what it allows renders to SQL from the tree; everything
else, hostile or merely unsupported, is refused with what was found."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from paved.api import slice_filters
from paved.api.model_version import SliceGate
from paved.api.slice_filters import MAX_DEPTH, FilterError, check_columns, parse, to_sql

ALLOWED = [
    ("tenure_days < 60", '("tenure_days" < 60)'),
    ("age_band = '65+'", "(\"age_band\" = '65+')"),
    ("country != 'DE'", "(\"country\" <> 'DE')"),
    ("country <> 'DE'", "(\"country\" <> 'DE')"),
    ("score >= -0.5 AND score <= 1e3", '(("score" >= -0.5) AND ("score" <= 1e3))'),
    ("a > 1 OR b < 2 OR c = 3", '(("a" > 1) OR ("b" < 2) OR ("c" = 3))'),
    ("NOT (a = 1)", '(NOT ("a" = 1))'),
    ("country IN ('DE', 'FR')", "(\"country\" IN ('DE', 'FR'))"),
    ("n not in (1, 2)", '("n" NOT IN (1, 2))'),
    ("tenure_days BETWEEN 0 AND 30", '("tenure_days" BETWEEN 0 AND 30)'),
    ("tenure_days NOT BETWEEN 0 AND 30", '("tenure_days" NOT BETWEEN 0 AND 30)'),
    ("country IS NULL", '("country" IS NULL)'),
    ("country is not null", '("country" IS NOT NULL)'),
    ("is_active", '"is_active"'),
    ("is_active = TRUE AND churned = false", '(("is_active" = TRUE) AND ("churned" = FALSE))'),
    ("name = 'O''Brien'", "(\"name\" = 'O''Brien')"),
    ("city = 'München'", "(\"city\" = 'München')"),
    # Inside a string, SQL is only text: rendered as one escaped literal.
    ("note = '; COPY x TO ''/tmp/y'' --'", "(\"note\" = '; COPY x TO ''/tmp/y'' --')"),
    ("(a = 1 OR b = 2) AND c = 3", '((("a" = 1) OR ("b" = 2)) AND ("c" = 3))'),
]


@pytest.mark.parametrize(("text", "sql"), ALLOWED)
def test_an_allowed_filter_renders_from_its_tree(text: str, sql: str) -> None:
    assert to_sql(parse(text)) == sql


REFUSED = [
    ("1=1; COPY (SELECT * FROM validation) TO '/tmp/leak.csv'", "a second statement"),
    ("tenure_days < 60; SELECT 1", "a second statement"),
    ("x IN (SELECT secret FROM read_csv('/etc/passwd'))", "SELECT is not allowed"),
    ("EXISTS (SELECT 1)", "EXISTS is not allowed"),
    ("read_csv('/etc/passwd') IS NOT NULL", r"function calls are not allowed: read_csv\(\.\.\.\)"),
    ("length(getenv('HOME')) > 0", "function calls are not allowed: length"),
    ("x = 1 -- AND y = 2", "comments are not allowed"),
    ("x = 1 /* hidden */", "comments are not allowed"),
    ("x = 1 /**/ OR 1 = 1", "comments are not allowed"),
    ("x = \u201965+\u2019", r"U\+2019"),  # curly quotes, as a word processor types them
    ("x = \uff07a\uff07", r"U\+FF07"),  # full-width apostrophe
    ("x\u00a0= 1", r"U\+00A0"),  # no-break space
    ("x = 'a\x00b'", "control character"),
    ("x = 'unterminated", "never closed"),
    ("x::VARCHAR = '1'", "casts are not allowed"),
    ("CAST(x AS VARCHAR) = '1'", "CAST is not allowed"),
    ("lower(x) = 'a'", "function calls are not allowed: lower"),
    ("*", "'\\*' is not allowed"),
    ("validation.x = 1", "table references"),
    ('"x" = 1', "quoted identifiers"),
    ("x = $1", "parameters"),
    ("x = ?", "parameters"),
    ("x LIKE '%a%'", "LIKE is not allowed"),
    ("a || b = 'ab'", "operators other than"),
    ("x = 1 +1", "character '\\+'"),
    ("5", "a literal alone is no condition"),
    ("x IN (y, 1)", "IN takes a list of literals, not the column 'y'"),
    ("x = 1 OR", "found the end"),
    ("x BETWEEN 1", "expected AND in BETWEEN"),
    ("x IS 1", "expected NULL after IS"),
    ("(x = 1", "expected '\\)'"),
    ("", "is empty"),
    ("   ", "is empty"),
    ("(" * (MAX_DEPTH + 1) + "x = 1" + ")" * (MAX_DEPTH + 1), f"nested more than {MAX_DEPTH}"),
    ("NOT " * (MAX_DEPTH + 1) + "x", f"nested more than {MAX_DEPTH}"),
    ("x = 1 AND " * 200 + "x = 1", "characters long"),
]


@pytest.mark.parametrize(("text", "error"), REFUSED)
def test_anything_outside_the_language_is_refused_saying_what(text: str, error: str) -> None:
    with pytest.raises(FilterError, match=error):
        parse(text)


def test_nesting_up_to_the_bound_is_allowed() -> None:
    nested = "(" * MAX_DEPTH + "x = 1" + ")" * MAX_DEPTH
    assert to_sql(parse(nested)) == '("x" = 1)'


def test_long_chains_of_and_stay_flat() -> None:
    # A chain is one node, so rendering it does not recurse once per term.
    chain = parse(" AND ".join(f"c{i} = {i}" for i in range(60)))
    assert isinstance(chain, slice_filters.And)
    assert len(chain.terms) == 60


def test_columns_are_checked_against_the_rows_and_unknown_ones_named() -> None:
    expression = parse("tenure_days < 60 AND age_band IN ('65+') OR secret IS NULL")
    check_columns(expression, ["tenure_days", "age_band", "secret"])
    with pytest.raises(FilterError, match="no column 'secret' in the evaluation rows"):
        check_columns(expression, ["tenure_days", "age_band"])


def test_a_slice_gate_with_a_hostile_filter_is_an_invalid_spec_naming_the_slice() -> None:
    with pytest.raises(ValidationError, match="slice leak: where: function calls are not"):
        SliceGate.model_validate({"name": "leak", "where": "read_csv('/etc/passwd') IS NULL"})
    assert SliceGate.model_validate({"name": "young", "where": "tenure_days < 60"}).where


_PIECES = [
    "x",
    "tenure_days",
    "'a'",
    "'it''s'",
    "1",
    "-2.5",
    "TRUE",
    "NULL",
    "=",
    "<>",
    "<",
    ">=",
    "AND",
    "OR",
    "NOT",
    "IN",
    "BETWEEN",
    "IS",
    "(",
    ")",
    ",",
    ";",
    "--",
    "/*",
    "::",
    "*",
    "read_csv",
    "SELECT",
    ".",
    '"',
    "\u2019",
    " ",
]


# 400 examples take about 2 s, and ten times that on a machine shared with other test runs.
@pytest.mark.timeout(60)
@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(st.sampled_from(_PIECES), max_size=30)))
def test_any_text_is_either_a_filter_or_refused_with_a_filter_error(made: str | list[str]) -> None:
    text = made if isinstance(made, str) else " ".join(made)
    try:
        expression = parse(text)
    except FilterError:
        return
    sql = to_sql(expression)
    # Outside its string literals the SQL holds names, numbers, brackets and operators only.
    code = re.sub(r"'(?:[^']|'')*'", "''", sql)
    assert re.fullmatch(r"[A-Za-z0-9_ ()\",.<>=\-']*", code), sql
    assert not any(piece in code for piece in (";", "--", "/*", "::", "*")), sql
