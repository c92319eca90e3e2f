"""The sharing store's schema, derived from the contracts, plus quarantine and load bookkeeping."""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import weakref
from collections.abc import Iterable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, Final

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, ExceptionContext

from contracts.base import Contract, FieldSpec

logger = logging.getLogger(__name__)

try:
    import fcntl
except ImportError:  # Windows: writers in other processes wait in SQLite's busy handler
    fcntl = None  # type: ignore[assignment]

metadata = sa.MetaData()

SOURCE_REF = "_source_ref"
RUN_ID = "_run_id"
_SQL_TYPES: dict[str, type[sa.types.TypeEngine[Any]]] = {
    "string": sa.Text,
    "date": sa.Date,
    "integer": sa.BigInteger,
    "number": sa.Float,
    "boolean": sa.Boolean,
}

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("source_system", sa.Text, nullable=False),
    sa.Column("source_ref", sa.Text, nullable=False),
    sa.Column("check_name", sa.Text, nullable=False),
    sa.Column("column_name", sa.Text),
    sa.Column("offending_value", sa.Text),
    sa.Column("failures", sa.JSON, nullable=False),
    sa.Column("raw_record", sa.JSON, nullable=False),
    sa.Column("contract_version", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_quarantine_dataset_check", "dataset", "check_name"),
    comment="Source rows that broke their contract, with the reason; never silently dropped.",
)

dataset_loads = sa.Table(
    "dataset_loads",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("contract_version", sa.Text, nullable=False),
    sa.Column("rows_in", sa.BigInteger, nullable=False),
    sa.Column("rows_loaded", sa.BigInteger, nullable=False),
    sa.Column("rows_quarantined", sa.BigInteger, nullable=False),
    sa.Column("source_drop_id", sa.Text),
    sa.Column("source_extracted_at", sa.DateTime(timezone=True)),
    sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_dataset_loads_dataset_loaded_at", "dataset", "loaded_at"),
    comment="One row per dataset write: the reconciliation figures and source freshness.",
)


def _column(spec: FieldSpec, primary_key: Iterable[str]) -> sa.Column[Any]:
    return sa.Column(
        spec.name,
        _SQL_TYPES[spec.dtype](),
        primary_key=spec.name in primary_key,
        nullable=spec.nullable,
        comment=f"{spec.description} [{spec.classification.value}]",
    )


def store_table(contract: Contract) -> sa.Table:
    """The sharing-store table of a contract (created once per process, then reused)."""
    if contract.name in metadata.tables:
        return metadata.tables[contract.name]
    columns = [_column(spec, contract.primary_key) for spec in contract.fields]
    lineage = [sa.Column(SOURCE_REF, sa.Text), sa.Column(RUN_ID, sa.Text)]
    indexes = [
        sa.Index(f"ix_{contract.name}_{ref.field}", ref.field) for ref in contract.references
    ]
    return sa.Table(
        contract.name, metadata, *columns, *lineage, *indexes, comment=contract.description
    )


def all_store_tables() -> list[sa.Table]:
    """Store tables of every registered contract."""
    from contracts.registry import all_contracts

    return [store_table(contract) for contract in all_contracts()]


BUSY_TIMEOUT_MS: Final = 30_000
"""How long a SQLite connection waits for a lock before it reports the database busy."""

BACKGROUND_AUTOCHECKPOINT_PAGES: Final = 10_000
"""SQLite's automatic checkpoint threshold in a process that checkpoints in the background
(`contracts.background.WalCheckpointer`): only a log that outgrows it (about 40 MB, when the
checkpointer cannot keep up) is checkpointed by a committing writer."""


def _sqlite_pragmas(
    dbapi_connection: Any, _record: Any, *, wal_autocheckpoint: int | None = None
) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Statement journals and transient tables in memory: on disk, the broker's multi-row
    # inserts (disclosure index entries, lineage edges) wrote about 500 KB of temporary file a
    # share under load.
    cursor.execute("PRAGMA temp_store=MEMORY")
    if wal_autocheckpoint is not None:
        cursor.execute(f"PRAGMA wal_autocheckpoint={int(wal_autocheckpoint)}")
    cursor.close()


SQLITE_READONLY: Final = 8
"""SQLite's primary result code for a write refused because the database is read-only."""


def sqlite_read_only(error: BaseException | None) -> bool:
    """Whether an error is SQLite refusing a write on a read-only database or connection."""
    code = getattr(error, "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == SQLITE_READONLY


def _reopen_read_only(context: ExceptionContext) -> None:
    # SQLite opens a file it cannot write read-only, and the connection stays read-only after
    # the file is writable again. Treated as a lost connection, it is replaced by the pool, so
    # the broker recovers from a read-only store without a restart.
    if sqlite_read_only(context.original_exception):
        context.is_disconnect = True


# Times and dataclasses go to json.dumps, which refuses them as it always did.
_ORJSON_STRICT: Final = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_text(value: Any) -> str:
    """The JSON text a JSON column stores for `value`, as its driver binds it.

    orjson writes it (a lineage event of 5.8 KB in 4 µs, json.dumps in 63 µs). What orjson
    refuses goes to json.dumps: integers beyond 64 bits, keys that are not strings, times,
    dataclasses, anything unknown (which json.dumps refuses in turn). The text reads back to the
    same value; it differs from json.dumps' only in spacing and in writing non-ASCII as UTF-8,
    and in that a non-finite float, which JSON cannot hold, is written as null.
    """
    try:
        return orjson.dumps(value, option=_ORJSON_STRICT).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)


# Every digit as "0", everything else as a space: a run of 19 zeros is a run of 19 digits.
_DIGITS: Final = bytes(
    ord("0") if ord("0") <= byte <= ord("9") else ord(" ") for byte in range(256)
)
_LONG_DIGIT_RUN: Final = b"0" * 19


def json_value(text: str | bytes) -> Any:
    """The value of a JSON column's text, exactly as ``json.loads`` reads it.

    orjson reads it (a 5.5 KB lineage event in 25 µs here, json.loads in 62 µs), except where
    it could read it differently: a run of 19 or more digits (orjson reads an integer beyond 64
    bits as a float, silently) and anything orjson refuses (NaN, Infinity, a number beyond a
    double's range, an escaped lone surrogate) go to json.loads. Finding the digit runs costs
    about 8 µs for the same event.
    """
    # Anything else goes to json.loads, which refuses it with the TypeError a driver expects
    # (SQLAlchemy returns a number SQLite stored in a JSON column when json.loads refuses it).
    if isinstance(text, str | bytes | bytearray):
        try:
            data = text.encode() if isinstance(text, str) else text
            if _LONG_DIGIT_RUN not in data.translate(_DIGITS):
                return orjson.loads(data)
        except (UnicodeEncodeError, orjson.JSONDecodeError):
            pass
    return json.loads(text)


def make_engine(url: str, *, wal_autocheckpoint: int | None = None) -> Engine:
    """An engine: WAL and a busy timeout on SQLite; pre-ping and a connect timeout on servers.

    ``wal_autocheckpoint``: SQLite's automatic checkpoint threshold, in pages, for a process
    that checkpoints in the background (SQLite's own default, 1,000 pages, when None).
    SQLite runs the automatic checkpoint in the commit that crosses it, while that writer
    still holds the write turn; see `BACKGROUND_AUTOCHECKPOINT_PAGES`.
    """
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, json_serializer=json_text, json_deserializer=json_value)
        pragmas = functools.partial(_sqlite_pragmas, wal_autocheckpoint=wal_autocheckpoint)
        event.listen(engine, "connect", pragmas)
        event.listen(engine, "handle_error", _reopen_read_only)
        return engine
    # A server that accepts connections but never answers must fail requests within seconds
    # rather than hold them for the driver's default (over two minutes); a URL may override.
    parsed = sa.engine.make_url(url)
    connect_args = {} if "connect_timeout" in parsed.query else {"connect_timeout": 5}
    return sa.create_engine(
        url,
        pool_pre_ping=True,
        connect_args=connect_args,
        json_serializer=json_text,
        json_deserializer=json_value,
    )


def _generic(type_: sa.types.TypeEngine[Any]) -> type[Any]:
    try:
        return type(type_.as_generic())
    except NotImplementedError:
        return type(type_)


def _same_type(stored: sa.types.TypeEngine[Any], wanted: sa.types.TypeEngine[Any]) -> bool:
    # Reflection may return a subclass (DOUBLE PRECISION for Float), so either direction counts.
    have, want = _generic(stored), _generic(wanted)
    return issubclass(have, want) or issubclass(want, have)


def store_table_drift(conn: Connection, contract: Contract) -> list[str]:
    """How a contract's table in the database differs from the contract; empty if it matches."""
    table = store_table(contract)
    inspector = sa.inspect(conn)
    if not inspector.has_table(table.name):
        return [f"table {table.name} does not exist"]
    stored = {column["name"]: column for column in inspector.get_columns(table.name)}
    drift = [
        f"column {name} is no longer in the contract" for name in stored.keys() - table.c.keys()
    ]
    for column in table.columns:
        found = stored.get(column.name)
        if found is None:
            drift.append(f"column {column.name} is new")
        elif not _same_type(found["type"], column.type):
            drift.append(
                f"column {column.name} is {found['type']}, the contract says {column.type}"
            )
        elif bool(found["nullable"]) != bool(column.nullable):
            drift.append(f"column {column.name} nullability changed")
    primary_key = inspector.get_pk_constraint(table.name).get("constrained_columns") or []
    if sorted(primary_key) != sorted(column.name for column in table.primary_key):
        drift.append(f"the primary key is {primary_key}")
    return sorted(drift)


def empty_store_table(conn: Connection, contract: Contract) -> sa.Table:
    """Empty a contract's table in the caller's transaction, rebuilding it if the contract changed.

    A contract version that adds, removes or retypes a column makes the stored table differ from
    the contract; the table is then dropped and created from the contract in the same
    transaction as its refill, so a failed load leaves the old table and rows in place.
    """
    table = store_table(contract)
    if not sa.inspect(conn).has_table(table.name):
        table.create(conn)
        return table
    # The DELETE comes first: it opens the transaction on SQLite, which the DDL then joins.
    conn.execute(table.delete())
    drift = store_table_drift(conn, contract)
    if drift:
        logger.warning(
            "Rebuilding table %s for contract version %s: %s",
            table.name,
            contract.version,
            "; ".join(drift),
        )
        table.drop(conn)
        table.create(conn)
    return table


def create_store_tables(engine: Engine) -> None:
    """Create any missing sharing-store table derived from a contract (idempotent).

    Only the contracts' tables: Tillit's own tables are created by the migrations
    (``tillit db upgrade``). A contract's major version is a new table the pipeline fills.
    """
    metadata.create_all(engine, tables=all_store_tables())


def snapshot_reader(engine: Engine) -> Connection:
    """A connection in a read transaction whose statements all see one snapshot of the store,
    until it is closed: REPEATABLE READ on PostgreSQL (where READ COMMITTED gives every
    statement its own), an explicit BEGIN on SQLite (whose driver opens transactions only for
    writes, so each SELECT would read the newest commit). The caller closes it."""
    conn = engine.connect()
    try:
        if engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            conn.begin()
        else:
            conn.begin()
            # The snapshot is taken by the first read; it is released when the connection is
            # returned to the pool, which rolls the transaction back.
            conn.exec_driver_sql("BEGIN")
    except BaseException:
        conn.close()
        raise
    return conn


def upsert_insert(dialect: str, table: sa.Table) -> Any:
    """An INSERT of `table` with ON CONFLICT clauses, in the dialect of the store (SQLite and
    PostgreSQL spell them alike, but SQLAlchemy builds them from each dialect's own insert)."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"Tillit's stores are SQLite and PostgreSQL, not {dialect!r}")


class WriteTurnBusy(Exception):
    """The write turn is held elsewhere, and the caller asked not to wait for it."""


class _WriteTurn:
    """One process's writers on one SQLite file: a re-entrant lock for its threads, and an
    exclusive flock on a file beside the database for the outermost holder, so writers in
    other processes queue in the kernel and wake the moment the turn is handed over.

    A context manager itself rather than a generator: every share enters it once inside its
    request, where a generator-based one cost several times the two flock calls it makes."""

    def __init__(self, lock_path: str | None) -> None:
        self._lock = threading.RLock()
        self._lock_path = lock_path
        self._depth = 0
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int | None:
        if self._lock_path is None or fcntl is None:
            return None
        # A descriptor inherited through fork shares its lock with the parent: reopen.
        if self._fd is None or self._pid != os.getpid():
            self._fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    def __enter__(self) -> None:
        self.take(wait=True)

    def take(self, *, wait: bool) -> None:
        """Take the turn; without `wait`, raise WriteTurnBusy at once if another thread or
        process holds it."""
        if not self._lock.acquire(blocking=wait):
            raise WriteTurnBusy("another thread of this process is writing")
        try:
            if self._depth == 0:
                fd = self._file()
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.release()
            raise WriteTurnBusy("another process is writing") from None
        except BaseException:
            self._lock.release()
            raise
        self._depth += 1

    def __exit__(self, *_: object) -> None:
        self._depth -= 1
        try:
            if self._depth == 0 and self._fd is not None and self._pid == os.getpid():
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._lock.release()


_WRITE_TURNS: dict[URL, _WriteTurn] = {}
_WRITE_TURNS_GUARD = threading.Lock()
# Each engine's turn, found without hashing its URL (which renders the URL as text).
_TURN_OF_ENGINE: weakref.WeakKeyDictionary[Engine, _WriteTurn] = weakref.WeakKeyDictionary()


def sqlite_file(url: URL) -> str | None:
    """The file of a SQLite database URL on disk; None for an in-memory one (which no other
    process sees)."""
    database, text = url.database, url.render_as_string(hide_password=False)
    if database in (None, "", ":memory:") or "mode=memory" in text:
        return None
    return database


def _write_turn(url: URL) -> _WriteTurn:
    """The one write turn of a database URL in this process (created on first use)."""
    with _WRITE_TURNS_GUARD:
        turn = _WRITE_TURNS.get(url)
        if turn is None:
            database = sqlite_file(url)
            turn = _WRITE_TURNS[url] = _WriteTurn(f"{database}.writers" if database else None)
        return turn


class _TurnNow:
    """The write turn taken without waiting (``sqlite_writer(engine, wait=False)``)."""

    def __init__(self, turn: _WriteTurn) -> None:
        self._turn = turn

    def __enter__(self) -> None:
        self._turn.take(wait=False)

    def __exit__(self, *_: object) -> None:
        self._turn.__exit__()


def sqlite_writer(engine: Engine, *, wait: bool = True) -> AbstractContextManager[None]:
    """Hold the write turn on a SQLite database; a no-op on other databases.

    Without `wait`, entering raises WriteTurnBusy at once where it would wait for the turn
    (for a caller that must never block: the event loop).

    SQLite admits one writer. A connection that finds the write lock taken sleeps in SQLite's
    busy handler on a fixed back-off (up to 100 ms a try), so with concurrent requests, the
    lineage shipper and the audit chain all writing, the waits grow far longer than the
    transactions they wait for. Writers that take their turn here queue on a thread lock and
    a file lock instead and start the moment the holder commits; any other writer still meets
    SQLite's own locking, so this orders writers without being needed for correctness.
    Re-entrant: a writer already holding the turn may open another section.
    """
    turn = _TURN_OF_ENGINE.get(engine)
    if turn is None:
        if engine.dialect.name != "sqlite":
            return nullcontext()
        turn = _TURN_OF_ENGINE[engine] = _write_turn(engine.url)
    return turn if wait else _TurnNow(turn)
