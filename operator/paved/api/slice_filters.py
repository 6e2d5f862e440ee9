"""Slice filters: a small boolean language over columns, parsed and checked before any engine
sees it, and rendered to SQL from the parsed tree (never from the text).

What a filter may say: column names, literals (numbers, 'strings', TRUE, FALSE, NULL),
comparisons (= != <> < <= > >=), AND, OR, NOT, parentheses, `IN (literal, ...)`, `BETWEEN a AND
b`, `IS [NOT] NULL`. Nothing else: no functions, subqueries, casts, comments, `*`, table
references or second statements. The grammar is the allow-list, so anything outside it is a
syntax error that names what was found (ADR 0011).

Pure: no I/O. It lives with the API models because the spec validates with it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, assert_never

MAX_LENGTH: Final = 1024
MAX_DEPTH: Final = 16  # parentheses and NOTs nested; real filters use two or three


class FilterError(ValueError):
    """The filter is not in the language; the message says what was found, and where."""


class Comparison(StrEnum):
    EQ = "="
    NE = "<>"
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


@dataclass(frozen=True)
class Column:
    name: str


@dataclass(frozen=True)
class Number:
    text: str  # as written, already checked to be a decimal number


@dataclass(frozen=True)
class String:
    value: str


@dataclass(frozen=True)
class Boolean:
    value: bool


@dataclass(frozen=True)
class Null:
    pass


Literal = Number | String | Boolean | Null
Operand = Column | Literal


@dataclass(frozen=True)
class Compare:
    op: Comparison
    left: Operand
    right: Operand


@dataclass(frozen=True)
class In:
    operand: Operand
    items: tuple[Literal, ...]
    negated: bool


@dataclass(frozen=True)
class Between:
    operand: Operand
    low: Operand
    high: Operand
    negated: bool


@dataclass(frozen=True)
class IsNull:
    operand: Operand
    negated: bool


@dataclass(frozen=True)
class And:
    terms: tuple[Expression, ...]


@dataclass(frozen=True)
class Or:
    terms: tuple[Expression, ...]


@dataclass(frozen=True)
class Not:
    term: Expression


Expression = Compare | In | Between | IsNull | And | Or | Not | Operand


# -- tokens -----------------------------------------------------------------------------------

_KEYWORDS: Final = frozenset({"AND", "OR", "NOT", "IN", "BETWEEN", "IS", "NULL", "TRUE", "FALSE"})
# Words that only mean something in the SQL this language keeps out; named in the error.
_SQL_ONLY: Final = re.compile(
    r"SELECT|FROM|WITH|UNION|TABLE|EXISTS|ANY|ALL|COPY|ATTACH|INSTALL|LOAD|SET|PRAGMA|CAST|CASE"
    r"|LIKE|ILIKE|GLOB|SIMILAR"
)
_TOKEN: Final = re.compile(
    r"""
    (?P<space>[ \t\r\n]+)
    |(?P<number>[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_]*)
    |(?P<string>'(?:[^']|'')*')
    |(?P<op><=|>=|<>|!=|=|<|>|\(|\)|,|-)
    """,
    re.VERBOSE,
)
# What is not in the language, said plainly rather than as "unexpected character".
_REFUSED: Final = (
    (";", "a second statement (';') is not allowed"),
    ("--", "comments are not allowed"),
    ("/*", "comments are not allowed"),
    ("::", "casts are not allowed"),
    ("*", "'*' is not allowed"),
    ('"', "quoted identifiers are not allowed: name columns as they are"),
    ("||", "operators other than comparisons, AND, OR and NOT are not allowed"),
    (".", "table references and qualified names are not allowed"),
    ("$", "parameters are not allowed"),
    ("?", "parameters are not allowed"),
)


@dataclass(frozen=True)
class _Token:
    kind: str  # number, word, string, op, end
    text: str
    at: int


def _tokens(text: str) -> list[_Token]:
    found: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or (
            match.lastgroup == "op" and match.group() == "-" and text.startswith("--", position)
        ):
            raise FilterError(_refusal(text, position))
        kind = match.lastgroup or ""
        if kind == "string" and (bad := re.search(r"[\x00-\x1f\x7f]", match.group())):
            raise FilterError(
                f"a control character (U+{ord(bad.group()):04X}) in a string at {position}"
            )
        if kind != "space":
            found.append(_Token(kind, match.group(), position))
        position = match.end()
    found.append(_Token("end", "", len(text)))
    return found


def _refusal(text: str, position: int) -> str:
    for start, message in _REFUSED:
        if text.startswith(start, position):
            return f"{message} at {position}"
    if text[position] == "'":
        return f"a string opened at {position} is never closed"
    character = text[position]
    if not character.isascii():
        return (
            f"the character {character!r} (U+{ord(character):04X}) at {position} is not allowed;"
            " strings use plain single quotes ('), names plain ASCII letters, digits and _"
        )
    return f"the character {character!r} at {position} is not allowed"


# -- parsing ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._next = 0
        self._depth = 0

    @property
    def _peek(self) -> _Token:
        return self._tokens[self._next]

    def _take(self) -> _Token:
        token = self._tokens[self._next]
        self._next += 1
        return token

    def _at_word(self, *words: str) -> bool:
        return self._peek.kind == "word" and self._peek.text.upper() in words

    def _accept(self, word: str) -> bool:
        """Take the next token if it is `word`; whether it was."""
        if self._at_word(word):
            self._take()
            return True
        return False

    def _expect(self, kind: str, text: str, what: str) -> None:
        token = self._take()
        if token.kind != kind or token.text.upper() != text:
            raise FilterError(f"expected {what} at {token.at}, found {_shown(token)}")

    def _deeper(self, at: int) -> None:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise FilterError(f"nested more than {MAX_DEPTH} deep at {at}")

    def parse(self) -> Expression:
        expression = self._or()
        token = self._peek
        if token.kind == "word" and _SQL_ONLY.fullmatch(token.text.upper()):
            raise FilterError(_sql_only(token.text.upper()))
        if token.kind != "end":
            raise FilterError(f"unexpected {_shown(token)} at {token.at}")
        return expression

    def _or(self) -> Expression:
        terms = [self._and()]
        while self._at_word("OR"):
            self._take()
            terms.append(self._and())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def _and(self) -> Expression:
        terms = [self._not()]
        while self._at_word("AND"):
            self._take()
            terms.append(self._not())
        return terms[0] if len(terms) == 1 else And(tuple(terms))

    def _not(self) -> Expression:
        if not self._at_word("NOT"):
            return self._predicate()
        self._deeper(self._take().at)
        term = self._not()
        self._depth -= 1
        return Not(term)

    def _predicate(self) -> Expression:
        if self._peek.text == "(":
            self._deeper(self._take().at)
            inner = self._or()
            self._expect("op", ")", "')'")
            self._depth -= 1
            return inner
        start = self._peek.at
        left = self._operand()
        token = self._peek
        if token.kind == "op" and token.text in ("=", "!=", "<>", "<", "<=", ">", ">="):
            self._take()
            op = Comparison.NE if token.text == "!=" else Comparison(token.text)
            return Compare(op, left, self._operand())
        if self._accept("IS"):
            negated = self._accept("NOT")
            self._expect("word", "NULL", "NULL after IS")
            return IsNull(left, negated)
        negated = self._accept("NOT")
        if self._accept("IN"):
            return In(left, self._literal_list(), negated)
        if self._accept("BETWEEN"):
            low = self._operand()
            self._expect("word", "AND", "AND in BETWEEN")
            return Between(left, low, self._operand(), negated)
        if negated:
            raise FilterError(f"expected IN or BETWEEN after NOT at {token.at}")
        if not isinstance(left, Column | Boolean):
            # A number or string alone is no condition (DuckDB would cast it, or fail late).
            raise FilterError(
                f"a literal alone is no condition at {start}: compare it with a column"
            )
        return left

    def _literal_list(self) -> tuple[Literal, ...]:
        self._expect("op", "(", "'(' after IN")
        items = [self._literal()]
        while self._peek.text == ",":
            self._take()
            items.append(self._literal())
        self._expect("op", ")", "')' closing the IN list")
        return tuple(items)

    def _literal(self) -> Literal:
        operand = self._operand()
        if isinstance(operand, Column):
            raise FilterError(f"IN takes a list of literals, not the column {operand.name!r}")
        return operand

    def _operand(self) -> Operand:
        token = self._take()
        match token.kind:
            case "number":
                return Number(token.text)
            case "string":
                return String(token.text[1:-1].replace("''", "'"))
            case "op" if token.text == "-" and self._peek.kind == "number":
                return Number("-" + self._take().text)
            case "word":
                return self._word(token)
            case _:
                found = _shown(token)
                raise FilterError(f"expected a column or a literal at {token.at}, found {found}")

    def _word(self, token: _Token) -> Operand:
        upper = token.text.upper()
        if _SQL_ONLY.fullmatch(upper):
            raise FilterError(_sql_only(upper))
        if self._peek.text == "(":
            raise FilterError(f"function calls are not allowed: {token.text}(...) at {token.at}")
        if upper in ("TRUE", "FALSE"):
            return Boolean(upper == "TRUE")
        if upper == "NULL":
            return Null()
        if upper in _KEYWORDS:
            raise FilterError(f"expected a column or a literal at {token.at}, found {upper}")
        return Column(token.text)


def _sql_only(word: str) -> str:
    return (
        f"{word} is not allowed: a filter compares columns with literals"
        " (no subqueries, tables, casts, patterns or statements)"
    )


def _shown(token: _Token) -> str:
    return "the end" if token.kind == "end" else repr(token.text)


def parse(text: str) -> Expression:
    """The filter's tree; FilterError says what is not allowed, and where."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"is {len(text)} characters long; at most {MAX_LENGTH} are allowed")
    if not text.strip():
        raise FilterError("is empty")
    return _Parser(text).parse()


# -- what a tree refers to, and its SQL -------------------------------------------------------


def columns(expression: Expression) -> frozenset[str]:
    """Every column the filter names."""
    match expression:
        case Column(name=name):
            return frozenset({name})
        case Number() | String() | Boolean() | Null():
            return frozenset()
        case Compare(left=left, right=right):
            return columns(left) | columns(right)
        case In(operand=operand):
            return columns(operand)
        case Between(operand=operand, low=low, high=high):
            return columns(operand) | columns(low) | columns(high)
        case IsNull(operand=operand):
            return columns(operand)
        case And(terms=terms) | Or(terms=terms):
            return frozenset().union(*(columns(t) for t in terms))
        case Not(term=term):
            return columns(term)
        case _:
            assert_never(expression)


def check_columns(expression: Expression, available: Sequence[str]) -> None:
    """FilterError naming the columns the filter uses that `available` lacks."""
    unknown = sorted(columns(expression) - set(available))
    if unknown:
        raise FilterError(
            f"no column {', '.join(map(repr, unknown))} in the evaluation rows"
            f" (they have: {', '.join(available)})"
        )


def to_sql(expression: Expression) -> str:
    """DuckDB SQL for the tree: every name quoted, every string escaped, every term bracketed."""
    match expression:
        case Column(name=name):
            return '"' + name.replace('"', '""') + '"'
        case Number(text=text):
            return text
        case String(value=value):
            return "'" + value.replace("'", "''") + "'"
        case Boolean(value=value):
            return "TRUE" if value else "FALSE"
        case Null():
            return "NULL"
        case Compare(op=op, left=left, right=right):
            return f"({to_sql(left)} {op.value} {to_sql(right)})"
        case In(operand=operand, items=items, negated=negated):
            listed = ", ".join(to_sql(i) for i in items)
            return f"({to_sql(operand)} {'NOT IN' if negated else 'IN'} ({listed}))"
        case Between(operand=operand, low=low, high=high, negated=negated):
            between = "NOT BETWEEN" if negated else "BETWEEN"
            return f"({to_sql(operand)} {between} {to_sql(low)} AND {to_sql(high)})"
        case IsNull(operand=operand, negated=negated):
            return f"({to_sql(operand)} IS {'NOT NULL' if negated else 'NULL'})"
        case And(terms=terms):
            return "(" + " AND ".join(to_sql(t) for t in terms) + ")"
        case Or(terms=terms):
            return "(" + " OR ".join(to_sql(t) for t in terms) + ")"
        case Not(term=term):
            return f"(NOT {to_sql(term)})"
        case _:
            assert_never(expression)
