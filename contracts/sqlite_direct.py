"""Single statements handed straight to sqlite3 on the broker's hot write path.

A SQLAlchemy statement execution costs some 50-70 µs of Python before SQLite sees it; sqlite3
itself runs an indexed insert or read in a few. A share makes about ten such statements inside
the audit chain lock, so on SQLite the hottest of them go to the driver directly, each value
bound by its column type's own SQLAlchemy processor: the row is stored exactly as
``conn.execute(table.insert(), row)`` stores it. Elsewhere (PostgreSQL) the same calls run the
SQLAlchemy statement.
"""

from __future__ import annotations

import functools
import operator
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.sql.dml import UpdateBase

from contracts.store import sqlite_read_only, upsert_insert


def sqlite_driver(conn: Connection) -> sqlite3.Connection | None:
    """The connection's sqlite3 connection, or None on any other driver."""
    driver = conn.connection.driver_connection
    return driver if isinstance(driver, sqlite3.Connection) else None


def run_on_driver(
    driver: sqlite3.Connection, sql: str, values: Sequence[Any] = ()
) -> sqlite3.Cursor:
    """Run a statement on sqlite3 itself; its errors raised as SQLAlchemy raises them, so a
    failing store is met the same way (503, nothing released) on every path."""
    try:
        return driver.execute(sql, values)
    except sqlite3.Error as error:
        raise sa.exc.DBAPIError.instance(sql, values, error, sqlite3.Error) from error


def first_row(conn: Connection, sql: str, statement: sa.Select[Any]) -> tuple[Any, ...] | None:
    """The first row of a parameterless query: on SQLite ``sql`` run by sqlite3 itself,
    elsewhere ``statement``, the same query."""
    driver = sqlite_driver(conn)
    if driver is not None:
        row: tuple[Any, ...] | None = run_on_driver(driver, sql).fetchone()
        return row
    result = conn.execute(statement).first()
    return None if result is None else tuple(result)


def execute_first(
    conn: Connection, statement: UpdateBase, params: Mapping[str, Any]
) -> tuple[Any, ...] | None:
    """Run an INSERT, UPDATE or DELETE with named parameters (an upsert with RETURNING, say)
    and return its first row: on SQLite as the statement's SQL compiled once and sent to
    sqlite3 itself, each value bound by its parameter type's processor; elsewhere through
    SQLAlchemy."""
    driver = sqlite_driver(conn)
    if driver is None:
        row = conn.execute(statement, dict(params)).first()
        return None if row is None else tuple(row)
    compiled = _SqliteStatement.of(statement, conn.dialect)
    try:
        return compiled.first(driver, params)
    except sa.exc.DBAPIError as error:
        if sqlite_read_only(error.orig):
            conn.invalidate()
        raise


class _SqliteStatement:
    """A statement compiled once for sqlite3: its SQL, and its parameters in order with their
    processors. Statements whose SQL depends on the values (expanding IN lists) are refused."""

    def __init__(self, statement: UpdateBase, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        names = list(compiled.positiontup or ())
        binds = [compiled.binds[name] for name in names]
        if any(bind.expanding or bind.literal_execute for bind in binds):
            raise ValueError("a statement whose SQL depends on its values cannot be precompiled")
        self._compiled = compiled
        self._sql = compiled.string
        self._names = names
        self._processors = [
            bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds
        ]
        # The RETURNING columns, read back as SQLAlchemy reads them (a date from its text).
        self._readers = [
            column.type.dialect_impl(dialect).result_processor(dialect, None)
            for column in statement.exported_columns
        ]

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def of(statement: UpdateBase, dialect: Dialect) -> _SqliteStatement:
        """The statement for one engine's dialect, compiled once."""
        return _SqliteStatement(statement, dialect)

    def first(
        self, driver: sqlite3.Connection, params: Mapping[str, Any]
    ) -> tuple[Any, ...] | None:
        # construct_params fills in the values a statement carries itself.
        bound = self._compiled.construct_params(dict(params))
        values = tuple(
            bound[name] if process is None else process(bound[name])
            for name, process in zip(self._names, self._processors, strict=True)
        )
        # Read to the end, so the statement is finished before its transaction commits.
        rows = run_on_driver(driver, self._sql, values).fetchall()
        if not rows:
            return None
        return tuple(
            value if read is None else read(value)
            for value, read in zip(rows[0], self._readers, strict=True)
        )


def insert_row(
    conn: Connection,
    table: sa.Table,
    row: Mapping[str, Any],
    *,
    ignore_duplicate: str | None = None,
) -> bool:
    """Insert one row in the caller's transaction; True if it was inserted.

    With ``ignore_duplicate`` (a column with a unique index), a row whose value there already
    exists is skipped, without failing the transaction, and False is returned.
    """
    driver = sqlite_driver(conn)
    if driver is None:
        if ignore_duplicate is None:
            conn.execute(table.insert(), dict(row))
            return True
        statement = _insert_ignoring(conn.dialect.name, table, ignore_duplicate)
        return conn.execute(statement, dict(row)).first() is not None
    insert = _SqliteInsert.of(table, conn.dialect, tuple(row), ignore_duplicate)
    try:
        return insert.run(driver, row) == 1
    except sa.exc.DBAPIError as error:
        # A store SQLite opened read-only stays read-only: dropped as the engine drops others
        # (``make_engine``'s error hook, which statements sent to sqlite3 itself bypass).
        if sqlite_read_only(error.orig):
            conn.invalidate()
        raise


def insert_rows(conn: Connection, table: sa.Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows, each with the same columns, in the caller's transaction (one executemany)."""
    if not rows:
        return
    driver = sqlite_driver(conn)
    if driver is None:
        conn.execute(table.insert(), [dict(row) for row in rows])
        return
    insert = _SqliteInsert.of(table, conn.dialect, tuple(rows[0]), None)
    try:
        insert.run_many(driver, rows)
    except sa.exc.DBAPIError as error:
        if sqlite_read_only(error.orig):
            conn.invalidate()
        raise


@dataclass(frozen=True)
class BoundRows:
    """Rows of one table, each with the same columns, with their values bound for sqlite3
    ahead of the transaction that inserts them (`bind_rows`, `insert_bound`): binding (JSON
    text, times as text) is most of an insert's Python, and needs no lock."""

    table: sa.Table
    rows: Sequence[Mapping[str, Any]]
    ignore_duplicate: str | None = None
    # SQLite's insert and the rows' values in its order; None on other databases.
    insert: _SqliteInsert | None = None
    values: list[tuple[Any, ...]] | None = None

    def __len__(self) -> int:
        return len(self.rows)


def bind_rows(
    dialect: Dialect,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore_duplicate: str | None = None,
) -> BoundRows:
    """Rows bound for an insert on a database of `dialect` (SQLite: the values as
    ``insert_rows`` would bind them; elsewhere the rows as they are); ``ignore_duplicate``
    as for ``insert_row``."""
    if dialect.name != "sqlite" or not rows:
        return BoundRows(table, rows, ignore_duplicate)
    insert = _SqliteInsert.of(table, dialect, tuple(rows[0]), ignore_duplicate)
    return BoundRows(table, rows, ignore_duplicate, insert, insert.bind(rows))


def insert_bound(conn: Connection, bound: BoundRows) -> int:
    """Insert bound rows in the caller's transaction; how many were inserted (rows whose
    ``ignore_duplicate`` value exists already are skipped)."""
    if not bound.rows:
        return 0
    driver = sqlite_driver(conn)
    if driver is None or bound.insert is None:
        if bound.ignore_duplicate is None:
            insert_rows(conn, bound.table, bound.rows)
            return len(bound.rows)
        return sum(
            insert_row(conn, bound.table, row, ignore_duplicate=bound.ignore_duplicate)
            for row in bound.rows
        )
    assert bound.values is not None  # noqa: S101 - bound together with the insert
    try:
        return bound.insert.run_bound(driver, bound.values)
    except sa.exc.DBAPIError as error:
        if sqlite_read_only(error.orig):
            conn.invalidate()
        raise


@functools.cache
def _insert_ignoring(dialect: str, table: sa.Table, key: str) -> sa.Insert:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING the key (built once per table)."""
    statement: sa.Insert = upsert_insert(dialect, table).on_conflict_do_nothing(
        index_elements=[key]
    )
    # RETURNING tells a skipped row apart on every driver (psycopg reports no rowcount here).
    return statement.returning(table.c[key])


class _SqliteInsert:
    """One table's INSERT of one set of columns, for sqlite3 itself."""

    def __init__(
        self, table: sa.Table, dialect: Dialect, names: tuple[str, ...], ignore: str | None
    ) -> None:
        missing = [
            column.name
            for column in table.columns
            if column.name not in names and (column.default is not None or column.onupdate)
        ]
        if missing:
            # A Python-side default is applied by SQLAlchemy's execution, which this skips.
            raise ValueError(f"{table.name}: give {', '.join(missing)} (defaults not applied)")
        columns = [table.c[name] for name in names]
        self._names = names
        # The row's values in column order in one call, then only the columns whose type
        # converts its value for sqlite3: edges and records bind a dozen values each.
        self._pick = operator.itemgetter(*names)
        self._single = len(names) == 1
        self._processors = [
            (number, _memoised_for(column.type, process))
            for number, (column, process) in enumerate(
                (column, column.type.dialect_impl(dialect).bind_processor(dialect))
                for column in columns
            )
            if process is not None
        ]
        marks = ", ".join("?" for _ in names)
        conflict = f" ON CONFLICT ({ignore}) DO NOTHING" if ignore else ""
        # Our own table and column names, never input.
        self._sql = f"INSERT INTO {table.name} ({', '.join(names)}) VALUES ({marks}){conflict}"  # noqa: S608

    @staticmethod
    @functools.lru_cache(maxsize=64)
    def of(
        table: sa.Table, dialect: Dialect, names: tuple[str, ...], ignore: str | None
    ) -> _SqliteInsert:
        """The insert for one table, column set and engine dialect, built once."""
        return _SqliteInsert(table, dialect, names, ignore)

    def run(self, driver: sqlite3.Connection, row: Mapping[str, Any]) -> int:
        """Insert `row`; the number of rows inserted (0 when a duplicate was skipped)."""
        return run_on_driver(driver, self._sql, self._values(row)).rowcount

    def run_many(self, driver: sqlite3.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert rows with the same columns as the first."""
        self.run_bound(driver, self.bind(rows))

    def bind(self, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
        """Each row's values in the insert's order, bound by their columns' processors."""
        return [self._values(row) for row in rows]

    def run_bound(self, driver: sqlite3.Connection, values: list[tuple[Any, ...]]) -> int:
        """Insert rows from their bound values; the number inserted."""
        try:
            return driver.executemany(self._sql, values).rowcount
        except sqlite3.Error as error:
            raise sa.exc.DBAPIError.instance(self._sql, values, error, sqlite3.Error) from error

    def _values(self, row: Mapping[str, Any]) -> tuple[Any, ...]:
        if len(row) != len(self._names):
            raise ValueError(f"a row of {sorted(row)} where {list(self._names)} were expected")
        picked = self._pick(row)
        values = [picked] if self._single else list(picked)
        for number, process in self._processors:
            values[number] = process(values[number])
        return tuple(values)


def _memoised_for(
    kind: sa.types.TypeEngine[Any], process: Callable[[Any], Any]
) -> Callable[[Any], Any]:
    """The column's bind processor, remembering what repeats from row to row."""
    if isinstance(kind, sa.JSON):
        return _memoised(process)
    if isinstance(kind, sa.DateTime):
        return _same_as_last(process)
    return process


def _same_as_last(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A time column's bind processor that reuses its text for the very object it wrote last:
    the edges of one lineage event all carry the event's time."""
    last: tuple[Any, Any] = (object(), None)

    def run(value: Any) -> Any:
        nonlocal last
        # One tuple, read and replaced whole, so threads sharing the insert never pair one
        # time with another's text.
        seen = last
        if value is seen[0]:
            return seen[1]
        text = process(value)
        last = (value, text)
        return text

    return run


def _memoised(process: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A JSON column's bind processor remembering the text of recent lists of text: a share's
    reason codes and released fields repeat from one record to the next."""
    cache: dict[tuple[Any, ...], Any] = {}

    def run(value: Any) -> Any:
        # Only lists of text: a key must be hashable, and True and 1 must not share one.
        if not isinstance(value, list) or not all(type(item) is str for item in value):
            return process(value)
        key = tuple(value)
        text = cache.get(key)
        if text is None:
            if len(cache) >= 1024:
                cache.clear()
            text = cache[key] = process(value)
        return text

    return run
