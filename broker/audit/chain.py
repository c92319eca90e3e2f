"""Appending to the audit chain inside the one write transaction that holds the chain lock."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from broker.audit.records import GENESIS_HASH, AuditEntry, AuditRecord, values_hash
from broker.audit.tables import audit_log
from contracts.sqlite_direct import first_row, insert_row, run_on_driver
from contracts.store import WriteTurnBusy, sqlite_read_only, sqlite_writer

# PostgreSQL advisory lock key of the chain: the ASCII bytes of "tillit.a" as one 64-bit
# integer, identical in every broker process so all of them queue on the same lock.
AUDIT_LOCK_KEY: Final = int.from_bytes(b"tillit.a", "big")
_LOCK_FLAG: Final = "tillit_audit_chain_lock"
# Whether the current thread or task is inside audit_transaction.
_HOLDING: ContextVar[bool] = ContextVar("tillit_audit_holding", default=False)
# Built once: constructing a statement costs more than running it against an indexed head.
_HEAD = sa.select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
_HEAD_SQL: Final = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"
SQLITE_BUSY: Final = 5


@contextmanager
def audit_transaction(engine: Engine, *, wait: bool = True) -> Iterator[Connection]:
    """A write transaction holding the audit chain lock; commits on exit, rolls back on error.

    Without `wait` (SQLite only), entering raises WriteTurnBusy at once, before anything is
    written, where it would wait for another writer: for a caller on the event loop, which
    then hands the transaction to a thread.
    """
    dialect = engine.dialect.name
    if dialect == "sqlite":
        context = _sqlite_transaction(engine, wait)
    elif dialect == "postgresql":
        if not wait:
            raise ValueError("an audit transaction that never waits is for SQLite stores")
        context = _postgresql_transaction(engine)
    else:
        raise ValueError(f"the audit chain supports SQLite and PostgreSQL, not {dialect!r}")
    # A second audit transaction opened while this one is held would wait for a lock its own
    # caller holds: on PostgreSQL forever. Refuse it instead.
    if _HOLDING.get():
        raise RuntimeError("audit transactions cannot be nested; reuse the open connection")
    token = _HOLDING.set(True)
    try:
        with context as conn:
            conn.info[_LOCK_FLAG] = True
            try:
                yield conn
            finally:
                # conn.info outlives this checkout in the pool, so the flag must not.
                conn.info.pop(_LOCK_FLAG, None)
    finally:
        _HOLDING.reset(token)


@contextmanager
def _sqlite_transaction(engine: Engine, wait: bool) -> Iterator[Connection]:
    with sqlite_writer(engine, wait=wait), engine.connect() as conn:
        # SQLAlchemy's documented pysqlite recipe, scoped to this checkout: isolation_level None
        # stops sqlite3 from issuing its own deferred BEGIN (which comes only before the first
        # INSERT, too late to serialise the head read), and our BEGIN IMMEDIATE takes the write
        # lock up front; sqlite3 still runs the COMMIT/ROLLBACK SQLAlchemy asks for. The
        # setting is restored before the connection goes back to the pool.
        driver = conn.connection.driver_connection
        if not isinstance(driver, sqlite3.Connection):
            raise ValueError("the audit chain on SQLite needs the standard sqlite3 driver")
        previous = driver.isolation_level
        driver.isolation_level = None
        try:
            with conn.begin():
                # Straight to the driver: SQLAlchemy's pysqlite begin() sends nothing, so this
                # is the transaction it commits, without a statement execution's overhead.
                if wait:
                    run_on_driver(driver, "BEGIN IMMEDIATE", ())
                else:
                    _begin_now(driver)
                yield conn
        except sa.exc.DBAPIError as error:
            # The statements sent straight to sqlite3 bypass the engine's error handling: a
            # connection SQLite opened read-only is dropped here, as the engine drops others.
            if sqlite_read_only(error.orig):
                conn.invalidate()
            raise
        finally:
            # A connection the driver has already closed cannot be restored, nor reused.
            with suppress(sqlite3.ProgrammingError):
                driver.isolation_level = previous


def _begin_now(driver: sqlite3.Connection) -> None:
    """BEGIN IMMEDIATE without SQLite's busy wait: a writer outside Tillit's write turn (a
    tool on the same file) holding the lock gives WriteTurnBusy at once."""
    timeout = run_on_driver(driver, "PRAGMA busy_timeout").fetchone()[0]
    run_on_driver(driver, "PRAGMA busy_timeout=0")
    try:
        run_on_driver(driver, "BEGIN IMMEDIATE")
    except sa.exc.OperationalError as error:
        if getattr(error.orig, "sqlite_errorcode", 0) & 0xFF == SQLITE_BUSY:
            raise WriteTurnBusy("another connection holds the store's write lock") from None
        raise
    finally:
        run_on_driver(driver, f"PRAGMA busy_timeout={int(timeout)}")


@contextmanager
def _postgresql_transaction(engine: Engine) -> Iterator[Connection]:
    with engine.connect() as conn:
        # READ COMMITTED gives each statement a fresh snapshot, so the head read after the
        # lock is granted sees the previous holder's committed record (a REPEATABLE READ
        # snapshot taken at the lock statement would not).
        conn.execution_options(isolation_level="READ COMMITTED")
        with conn.begin():
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(AUDIT_LOCK_KEY)))
            yield conn


def holds_chain_lock(conn: Connection) -> bool:
    """True inside audit_transaction: the only place the chain may be written."""
    return bool(conn.info.get(_LOCK_FLAG, False))


def require_chain_lock(conn: Connection) -> None:
    """Refuse to write the chain outside audit_transaction, where a fork would be possible."""
    if not holds_chain_lock(conn):
        raise RuntimeError("the audit chain can only be written inside audit_transaction()")


def chain_head(conn: Connection) -> tuple[int, str]:
    """(seq, hash) of the last record, or (0, genesis hash) for an empty chain."""
    head = first_row(conn, _HEAD_SQL, _HEAD)
    if head is None:
        return 0, GENESIS_HASH
    return int(head[0]), str(head[1])


def append(conn: Connection, entry: AuditEntry, now: datetime) -> AuditRecord:
    """Append an entry after the current head; visible to others when the transaction commits."""
    require_chain_lock(conn)
    if now.tzinfo is None:
        raise ValueError("audit time must be timezone-aware")
    head_seq, prev_hash = chain_head(conn)
    seq = head_seq + 1
    row = entry.columns()
    digest = values_hash(prev_hash, seq, now, row)
    # Stored in UTC: SQLite keeps the wall time without the zone, and hashes use UTC anyway.
    recorded_at = now.astimezone(UTC)
    row.update(seq=seq, recorded_at=recorded_at, prev_hash=prev_hash, hash=digest)
    insert_row(conn, audit_log, row)
    return AuditRecord(seq=seq, hash=digest, prev_hash=prev_hash, recorded_at=recorded_at)
