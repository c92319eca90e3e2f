"""A replay cache in the database, so every broker worker process shares one memory of token ids."""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import ReturningInsert

from broker.auth.clock import Clock
from broker.errors import ServiceUnavailable
from contracts.sqlite_direct import execute_first
from contracts.store import metadata, sqlite_writer, upsert_insert

logger = logging.getLogger(__name__)

DEFAULT_PURGE_EVERY = 1000

token_replay = sa.Table(
    "token_replay",
    metadata,
    sa.Column("issuer", sa.Text, primary_key=True),
    sa.Column("jti", sa.Text, primary_key=True),
    sa.Column("expires_at", sa.Double, nullable=False, comment="Unix seconds"),
    sa.Index("ix_token_replay_expires_at", "expires_at"),
    comment="Spent access-token ids, kept until the token expires, so none is accepted twice.",
)


def _spend_statement(dialect: str) -> ReturningInsert[tuple[str]]:
    """One atomic statement that records an id, or takes over the record of an expired token
    with the same id (as the in-memory cache forgets it); it changes no row, and so reports
    a replay, only while the recorded token is still live."""
    insert = upsert_insert(dialect, token_replay).values(
        issuer=sa.bindparam("issuer"), jti=sa.bindparam("jti"), expires_at=sa.bindparam("expires")
    )
    # RETURNING, not rowcount: drivers disagree on the rowcount of an upsert (psycopg: -1).
    statement: ReturningInsert[tuple[str]] = insert.on_conflict_do_update(
        index_elements=[token_replay.c.issuer, token_replay.c.jti],
        set_={"expires_at": insert.excluded.expires_at},
        where=token_replay.c.expires_at <= sa.bindparam("now"),
    ).returning(token_replay.c.jti)
    return statement


class DatabaseReplayCache:
    """ReplayCache on the `token_replay` table; the primary key makes `add` atomic across workers.

    Works on SQLite and PostgreSQL: of two workers spending the same (issuer, jti), the
    primary key lets exactly one statement change a row, and only that worker wins. The
    statement never fails on a replay, so it can run inside another transaction (`add_in`,
    the share's audit transaction) without aborting it.
    """

    def __init__(
        self, engine: Engine, clock: Clock, *, purge_every: int = DEFAULT_PURGE_EVERY
    ) -> None:
        if purge_every < 1:
            raise ValueError("purge_every must be at least 1")
        self._engine = engine
        self._clock = clock
        self._purge_every = purge_every
        self._adds = 0
        self._lock = threading.Lock()
        self._spend = _spend_statement(engine.dialect.name)

    def add(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record (issuer, jti) until `expires_at`; False if it was already recorded."""
        try:
            with sqlite_writer(self._engine), self._engine.begin() as conn:
                return self.add_in(conn, issuer, jti, expires_at)
        except SQLAlchemyError as error:
            # Without a shared memory of spent ids a replay could pass, so fail closed.
            logger.error("Replay cache unavailable: %s", type(error).__name__, exc_info=error)
            raise ServiceUnavailable("replay protection is unavailable; retry shortly") from None

    def add_in(self, conn: Connection, issuer: str, jti: str, expires_at: float) -> bool:
        """`add` inside the caller's write transaction: spent only if that transaction commits."""
        now = self._clock()
        values = {"issuer": issuer, "jti": jti, "expires": expires_at, "now": now}
        recorded = execute_first(conn, self._spend, values) is not None
        with self._lock:
            due = self._adds % self._purge_every == 0
            self._adds += 1
        if due:
            # The first add of each process purges too, so short-lived workers still clean up.
            # In the same transaction: a second writer here would wait on this one (SQLite).
            conn.execute(token_replay.delete().where(token_replay.c.expires_at <= now))
        return recorded

    def purge(self, now: float | None = None) -> int:
        """Delete ids whose tokens have expired; returns how many. Failure is only logged."""
        cutoff = self._clock() if now is None else now
        try:
            with sqlite_writer(self._engine), self._engine.begin() as conn:
                result = conn.execute(
                    token_replay.delete().where(token_replay.c.expires_at <= cutoff)
                )
        except SQLAlchemyError as error:
            # Housekeeping only: the add it follows has already succeeded.
            logger.warning("Purging expired token ids failed: %s", type(error).__name__)
            return 0
        return result.rowcount
