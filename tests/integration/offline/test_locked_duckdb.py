"""Every DuckDB that reads user-named data is locked: it reads the files it was given and
nothing else, writes nothing, loads nothing, and no statement can unlock it. Checked with raw
SQL, as if a filter had slipped past the slice language."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from paved.adapters.offline.duckdb import locked_connection


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """A source file the connection is given, a secret beside it, and where a leak would go."""
    allowed, secret = tmp_path / "source[1].parquet", tmp_path / "secret.csv"
    pq.write_table(pa.table({"x": [1, 2, 3]}), allowed)
    secret.write_text("password\nhunter2\n")
    return {"allowed": allowed, "secret": secret, "leak": tmp_path / "leak.csv"}


HOSTILE = [
    "SELECT * FROM read_csv('{secret}')",
    "SELECT * FROM read_text('{secret}')",
    "SELECT * FROM '{secret}'",
    "SELECT * FROM read_csv('/etc/passwd')",
    "COPY (SELECT 42) TO '{leak}'",
    "COPY (SELECT * FROM read_parquet('{allowed}')) TO '{leak}'",
    "ATTACH '{leak}.db' AS other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SELECT * FROM read_parquet('https://example.com/x.parquet')",
    "SET enable_external_access = true",
    "SET lock_configuration = false",
    "RESET enable_external_access",
    "SET allowed_directories = ['/']",
    "SET temp_directory = '{leak}.d'",
    "PRAGMA enable_profiling",
]


@pytest.mark.parametrize("statement", HOSTILE)
def test_a_locked_connection_refuses_to_reach_outside_its_files(
    files: dict[str, Path], statement: str
) -> None:
    query = statement.format(**{name: str(path) for name, path in files.items()})
    with closing(locked_connection([str(files["allowed"])])) as connection:
        with pytest.raises(duckdb.Error) as refused:
            connection.sql(query).fetchall()
        assert isinstance(
            refused.value, duckdb.PermissionException | duckdb.InvalidInputException
        ), refused.value
        # Still locked afterwards: the settings a statement tried to change are as they were.
        settings = dict(
            connection.sql(
                "SELECT name, value FROM duckdb_settings() WHERE name IN"
                " ('enable_external_access', 'lock_configuration')"
            ).fetchall()
        )
    assert settings == {"enable_external_access": "false", "lock_configuration": "true"}
    assert not files["leak"].exists()


def test_a_locked_connection_reads_the_files_it_was_given(files: dict[str, Path]) -> None:
    with closing(locked_connection([str(files["allowed"])])) as connection:
        # As the engine names them: glob characters bracketed, so each means itself.
        named = str(files["allowed"]).replace("[", "[[]")
        rows = connection.sql("SELECT sum(x) FROM read_parquet($f)", params={"f": [named]})
        assert rows.fetchall() == [(6,)]
        assert connection.sql("SELECT current_setting('TimeZone')").fetchall() == [("UTC",)]


def test_a_locked_connection_with_no_files_reads_only_registered_rows() -> None:
    with closing(locked_connection()) as connection:
        connection.register("validation", pa.table({"x": [1, None, 3]}))
        assert connection.sql("SELECT count(*) FROM validation WHERE x > 1").fetchall() == [(1,)]
        with pytest.raises(duckdb.PermissionException):
            connection.sql("SELECT * FROM read_csv('/etc/passwd')").fetchall()
