"""A replay cache in the database, so every broker worker process shares one memory of token ids."""

from __future__ import annotations

import logging
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from broker.auth.clock import Clock
from broker.errors import ServiceUnavailable
from contracts.store import metadata, sqlite_writer

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


class DatabaseReplayCache:
    """ReplayCache on the `token_replay` table; the primary key makes `add` atomic across workers.

    Works on SQLite and PostgreSQL: a second insert of the same (issuer, jti) fails on the
    primary key whichever worker tries it, so exactly one of them wins.
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

    def add(self, issuer: str, jti: str, expires_at: float) -> bool:
        """Record (issuer, jti) until `expires_at`; False if it was already recorded."""
        now = self._clock()
        try:
            recorded = self._insert(issuer, jti, expires_at) or self._reclaim(
                issuer, jti, expires_at, now
            )
        except SQLAlchemyError as error:
            # Without a shared memory of spent ids a replay could pass, so fail closed.
            logger.error("Replay cache unavailable: %s", type(error).__name__, exc_info=error)
            raise ServiceUnavailable("replay protection is unavailable; retry shortly") from None
        self._maybe_purge(now)
        return recorded

    def _insert(self, issuer: str, jti: str, expires_at: float) -> bool:
        statement = token_replay.insert().values(issuer=issuer, jti=jti, expires_at=expires_at)
        try:
            with sqlite_writer(self._engine), self._engine.begin() as conn:
                conn.execute(statement)
        except IntegrityError:
            return False
        return True

    def _reclaim(self, issuer: str, jti: str, expires_at: float, now: float) -> bool:
        """Take over a recorded id whose token has expired, as the in-memory cache forgets it.

        The conditional UPDATE is atomic, so of several workers reclaiming at once only one
        sees a row still expired and wins.
        """
        statement = (
            token_replay.update()
            .where(
                token_replay.c.issuer == issuer,
                token_replay.c.jti == jti,
                token_replay.c.expires_at <= now,
            )
            .values(expires_at=expires_at)
        )
        with sqlite_writer(self._engine), self._engine.begin() as conn:
            return conn.execute(statement).rowcount == 1

    def _maybe_purge(self, now: float) -> None:
        with self._lock:
            due = self._adds % self._purge_every == 0
            self._adds += 1
        if due:
            # The first add of each process purges too, so short-lived workers still clean up.
            self.purge(now)

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
