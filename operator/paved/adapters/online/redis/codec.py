"""A stored value's bytes: 16 zero-padded digits of event time (epoch µs), then the features.

The digits come first so that a Lua script keeps only newer events by comparing strings. Encoding
is columnar (numpy, Arrow); decoding is one `struct.unpack_from` straight into the row, then one
split for all the strings. `WholeRow` decodes an entity row of several views in one go.
"""

from __future__ import annotations

import datetime as dt
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import reduce
from operator import itemgetter
from typing import Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from paved.api.feature_view import DataType
from paved.core.feature_views import ViewDefinition

TIMESTAMP_DIGITS: Final = 16  # epoch microseconds below 10**16: until the year 2286
LAST_MICROSECOND: Final = 10**TIMESTAMP_DIGITS - 1
# Per dtype: its numpy field, its struct code, and what stands in for a null in the fixed part.
_FIELDS: Final[dict[DataType, tuple[str, str, object]]] = {
    DataType.INT64: ("<i8", "q", 0),
    DataType.INT32: ("<i4", "i", 0),
    DataType.FLOAT64: ("<f8", "d", 0.0),
    DataType.FLOAT32: ("<f4", "f", 0.0),  # stored as declared: a float32 read is that float32
    DataType.BOOL: ("?", "?", False),
    DataType.STRING: ("?", "?", ""),  # a placeholder: the UTF-8 follows at the end
    DataType.TIMESTAMP: ("<i8", "q", 0),  # epoch microseconds, UTC
}
_EPOCH: Final = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_MICROSECOND: Final = dt.timedelta(microseconds=1)
# The byte after the event time: how the strings at the end are laid out. Joined by NUL, they
# split in one call; a row with a NUL inside a string spells out each length instead.
JOINED: Final = ord("0")
_LENGTH_PREFIXED: Final = ord("1")
_HEADER: Final = TIMESTAMP_DIGITS + 1
_STRING_LENGTH: Final = struct.Struct("<I")

Decoder = Callable[[list[Any], bytes], None]  # appends a stored value's features to a row


@dataclass(frozen=True)
class Codec:
    """A view version's feature values as bytes, after the event time and a layout byte.

    Fixed part, in feature order, little-endian: int64, float64 and timestamps (epoch µs) in 8
    bytes, int32 and float32 in 4, bool in 1, and a zero byte standing in for each string;
    then a bitmap of null features (feature i is bit i % 8 of byte i // 8); then the UTF-8
    of the string features in order: joined by NUL (`JOINED`) or, when a string holds a NUL,
    each after its length as a 4-byte integer (`_LENGTH_PREFIXED`).
    """

    dtypes: tuple[DataType, ...]
    record: np.dtype[np.void]  # the fixed part of one row as numpy lays it out: no padding
    fixed: struct.Struct  # the same fixed part but the null bitmap, for decoding one value
    string_positions: tuple[int, ...]
    timestamp_positions: tuple[int, ...]

    @classmethod
    def of(cls, view: ViewDefinition) -> Codec:
        dtypes = tuple(feature.dtype for feature in view.features)
        null_bytes = (len(dtypes) + 7) // 8
        fields = [(f"f{position}", _FIELDS[dtype][0]) for position, dtype in enumerate(dtypes)]
        codes = "".join(_FIELDS[dtype][1] for dtype in dtypes)
        return cls(
            dtypes=dtypes,
            record=np.dtype([*fields, ("nulls", "u1", (null_bytes,))]),
            fixed=struct.Struct(f"<{codes}"),
            string_positions=tuple(p for p, d in enumerate(dtypes) if d == DataType.STRING),
            timestamp_positions=tuple(p for p, d in enumerate(dtypes) if d == DataType.TIMESTAMP),
        )

    def encode(self, micros: Sequence[int], columns: Sequence[pa.Array]) -> list[bytes]:
        """One value per row: its event time, then its features (columns of the view's dtypes)."""
        rows = np.zeros(len(micros), self.record)
        nulls: np.ndarray[Any, np.dtype[np.bool_]] | None = None
        strings = []
        for position, (dtype, column) in enumerate(zip(self.dtypes, columns, strict=True)):
            if column.null_count:
                if nulls is None:
                    nulls = np.zeros((len(micros), len(self.dtypes)), np.bool_)
                nulls[:, position] = column.is_null().to_numpy(zero_copy_only=False)
            if dtype == DataType.TIMESTAMP:
                column = column.cast(pa.int64())
            filled = column.fill_null(_FIELDS[dtype][2])
            if dtype == DataType.STRING:
                strings.append(filled)
            else:
                rows[f"f{position}"] = filled.to_numpy(zero_copy_only=False)
        if nulls is not None:
            rows["nulls"] = np.packbits(nulls, axis=1, bitorder="little")
        fixed, width = rows.tobytes(), self.record.itemsize
        starts = range(0, len(fixed), width)
        stamps = [b"%016d" % event_us for event_us in micros]
        heads, tails = _string_tails(strings, len(micros))
        return [
            stamp + head + fixed[start : start + width] + tail
            for stamp, head, start, tail in zip(stamps, heads, starts, tails, strict=True)
        ]

    def decoder(self, positions: Sequence[int]) -> Decoder:
        """Appends to a row the values of a stored value's features at `positions`, in order."""
        fixed, count = self.fixed, len(self.dtypes)
        nulls_start = _HEADER + fixed.size
        no_nulls = bytes((count + 7) // 8)  # the null bitmap when no value is null
        strings_start = nulls_start + len(no_nulls)
        string_positions, timestamp_positions = self.string_positions, self.timestamp_positions
        # Requesting every feature in the view's order, the usual case, decodes straight into the
        # row; any other request decodes the whole value aside and picks from it.
        pick = None if tuple(positions) == tuple(range(count)) else _getter(positions)

        def decode(row: list[Any], value: bytes) -> None:
            values = row if pick is None else []
            start = len(values)
            values += fixed.unpack_from(value, _HEADER)
            if string_positions:
                tail = value[strings_start:]
                if value[TIMESTAMP_DIGITS] == JOINED:
                    strings = tail.decode().split("\x00")
                else:
                    strings = _length_prefixed(tail, len(string_positions))
                for position, string in zip(string_positions, strings, strict=True):
                    values[start + position] = string
            for position in timestamp_positions:
                values[start + position] = instant(values[start + position])
            if not value.startswith(no_nulls, nulls_start):
                _set_nulls(values, value[nulls_start:strings_start], start)
            if pick is not None:
                row += pick(values)

        return decode


def instant(micros: int) -> dt.datetime:
    """A stored timestamp feature (epoch µs) as the UTC datetime it is."""
    return _EPOCH + micros * _MICROSECOND


def _string_tails(strings: list[pa.Array], count: int) -> tuple[list[bytes], list[bytes]]:
    """Per row, its layout byte and the UTF-8 of its strings."""
    heads = [b"%c" % JOINED] * count
    if not strings:
        return heads, [b""] * count
    tails: list[bytes] = pc.binary_join_element_wise(*strings, "\x00").cast(pa.binary()).to_pylist()
    holding_nul = [pc.match_substring(string, "\x00") for string in strings]
    for row in np.flatnonzero(reduce(pc.or_, holding_nul).to_numpy(zero_copy_only=False)):
        heads[row] = b"%c" % _LENGTH_PREFIXED
        tails[row] = b"".join(
            _STRING_LENGTH.pack(len(utf8)) + utf8
            for utf8 in (string[row].as_py().encode() for string in strings)
        )
    return heads, tails


def _set_nulls(values: list[Any], bitmap: bytes, first: int) -> None:
    """Sets to None each value whose bit is set, counting from `values[first]`."""
    nulls = int.from_bytes(bitmap, "little")
    while nulls:
        lowest = nulls & -nulls
        values[first + lowest.bit_length() - 1] = None
        nulls ^= lowest


def _length_prefixed(tail: bytes, count: int) -> list[str]:
    strings, offset = [], 0
    for _ in range(count):
        (size,) = _STRING_LENGTH.unpack_from(tail, offset)
        offset += _STRING_LENGTH.size
        strings.append(tail[offset : offset + size].decode())
        offset += size
    return strings


def _getter(indices: Sequence[int]) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """`operator.itemgetter`, but a tuple for any number of indices: for one and none too."""
    if len(indices) == 1:
        (index,) = indices
        return lambda items: (items[index],)
    return itemgetter(*indices) if indices else lambda _: ()


@dataclass(frozen=True, slots=True)
class WholeRow:
    """Decodes an entity row whose every value is present, fresh and has its strings joined, in
    one go: one struct for the fixed parts of all its views, one loop over all their strings.
    View by view, call for call, the same row takes about a fifth longer."""

    fixed: struct.Struct
    cuts: tuple[tuple[int, int], ...]  # per view: where its fixed part lies in a stored value
    tails: tuple[int, ...]  # per view with strings: where they start in a stored value
    strings_of: tuple[int, ...]  # the views with strings, by index
    string_columns: tuple[int, ...]  # in the row, every string's column
    timestamp_columns: tuple[int, ...]  # in the row, every timestamp's column
    # Per view: its null bitmap's start and end in a stored value, the bitmap with no null,
    # and its first column in the row.
    nulls: tuple[tuple[int, int, bytes, int], ...]

    @classmethod
    def of(cls, codecs: Sequence[Codec]) -> WholeRow:
        cuts, nulls = [], []
        tails: list[int] = []
        strings_of: list[int] = []
        string_columns: list[int] = []
        timestamp_columns: list[int] = []
        first_column = 0
        for index, codec in enumerate(codecs):
            nulls_start = _HEADER + codec.fixed.size
            strings_start = nulls_start + (len(codec.dtypes) + 7) // 8
            cuts.append((_HEADER, nulls_start))
            if codec.string_positions:
                tails.append(strings_start)
                strings_of.append(index)
                string_columns += (first_column + p for p in codec.string_positions)
            timestamp_columns += (first_column + p for p in codec.timestamp_positions)
            clear = bytes(strings_start - nulls_start)
            nulls.append((nulls_start, strings_start, clear, first_column))
            first_column += len(codec.dtypes)
        return cls(
            fixed=struct.Struct("<" + "".join(c.fixed.format.lstrip("<") for c in codecs)),
            cuts=tuple(cuts),
            tails=tuple(tails),
            strings_of=tuple(strings_of),
            string_columns=tuple(string_columns),
            timestamp_columns=tuple(timestamp_columns),
            nulls=tuple(nulls),
        )

    def decode(self, raws: Sequence[bytes]) -> list[Any]:
        fixed = b"".join([raw[a:b] for raw, (a, b) in zip(raws, self.cuts, strict=True)])
        row = list(self.fixed.unpack(fixed))
        if self.string_columns:
            strings: list[str] = []
            for index, start in zip(self.strings_of, self.tails, strict=True):
                strings += raws[index][start:].decode().split("\x00")
            for column, string in zip(self.string_columns, strings, strict=True):
                row[column] = string
        for column in self.timestamp_columns:
            row[column] = instant(row[column])
        for raw, (start, end, clear, first) in zip(raws, self.nulls, strict=True):
            if not raw.startswith(clear, start):
                _set_nulls(row, raw[start:end], first)
        return row
