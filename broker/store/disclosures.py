"""The citizens' disclosure index: who received data about whom, found by subject key.

A share writes one ``disclosure_batches`` row in its audit transaction: the share's metadata
and the released subjects' keys packed into one value. Writing a row per subject there, into
an index ordered by subject, dirtied one index page per released person in every share and
held SQLite's single writer (and the audit chain) for most of a share's time. The
``DisclosureIndexer`` copies pending batches into ``disclosure_subjects`` in the background,
many shares per transaction. The index is a posting list: one entry per subject and round,
the raw 32-byte key and the ids of the round's batches that hold it, so a person released by
many shares in one round (a class list fetched daily by several offices, a register paged
through by several partners) costs one index entry, not one per share; the share's details
stay once in its batch. Reads merge both: the indexed postings and the batches not yet
indexed, so a disclosure is visible to its citizen from the moment the share commits.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from broker.store.tables import disclosure_batches, disclosure_subjects
from contracts.background import PollingWorker, RunnerLock
from contracts.sqlite_direct import insert_row
from contracts.store import sqlite_writer

log = logging.getLogger(__name__)

KEY_BYTES: Final = 32
"""A subject key is an HMAC-SHA256: 32 bytes, kept raw in the index."""
ID_BYTES: Final = 8
"""A batch id in a posting: unsigned, big-endian, so packed ids sort as the ids do."""
ROUND_KEYS: Final = 20_000
"""Subjects the indexer copies per transaction (at least one whole batch): long enough to
share postings and index pages between many shares, short enough not to keep shares waiting
on SQLite."""
_ROUND_BATCHES: Final = 256
_IDS_AT_ONCE: Final = 500
"""Batch ids a citizen's list reads details for per statement (well under SQLite's limit)."""


@dataclass(frozen=True, slots=True)
class Disclosure:
    """One release of data about a person, as their disclosure list shows it."""

    share_id: str
    partner: str
    dataset: str
    purpose: str
    legal_basis: str
    agreement_id: str
    disclosed_at: datetime


def pack_subject_keys(keys: Iterable[str | None]) -> bytes:
    """Distinct hex subject keys as one sorted run of raw 32-byte keys (missing keys skipped)."""
    raw = {bytes.fromhex(key) for key in keys if key is not None}
    return b"".join(sorted(raw))


def unpack_subject_keys(packed: bytes) -> list[str]:
    """The hex subject keys of a packed run, in order."""
    return [packed[at : at + KEY_BYTES].hex() for at in range(0, len(packed), KEY_BYTES)]


def batch_holds(packed: bytes, key: str) -> bool:
    """Whether a packed run holds a subject key (binary search over the sorted run)."""
    wanted = bytes.fromhex(key)
    low, high = 0, len(packed) // KEY_BYTES
    while low < high:
        middle = (low + high) // 2
        probe = packed[middle * KEY_BYTES : (middle + 1) * KEY_BYTES]
        if probe < wanted:
            low = middle + 1
        elif probe > wanted:
            high = middle
        else:
            return True
    return False


def record_batch(conn: Connection, keys: Iterable[str | None], **share: Any) -> int:
    """Record the subjects of one share (or part of one) in the caller's transaction.

    ``share`` holds the batch's share_id, partner, dataset, purpose, legal_basis,
    agreement_id, disclosed_at and visible_from. Returns how many subjects were recorded.
    """
    return record_packed(conn, pack_subject_keys(keys), **share)


def record_packed(conn: Connection, packed: bytes, **share: Any) -> int:
    """``record_batch`` for keys already packed with ``pack_subject_keys``."""
    if not packed:
        return 0
    count = len(packed) // KEY_BYTES
    row = {**share, "subject_keys": packed, "subject_count": count, "indexed_at": None}
    insert_row(conn, disclosure_batches, row)
    return count


_DETAILS: Final = (
    "share_id",
    "partner",
    "dataset",
    "purpose",
    "legal_basis",
    "agreement_id",
    "disclosed_at",
)


def disclosures_of(conn: Connection, key: str, now: datetime) -> list[Disclosure]:
    """A subject's disclosures visible by ``now``, one per share, newest first."""
    batches = disclosure_batches
    # Pending batches first: one indexed in between is then read twice (and kept once), where
    # the other order could miss it.
    pending = conn.execute(
        sa.select(batches).where(batches.c.indexed_at.is_(None), batches.c.visible_from <= now)
    ).all()
    found = {
        row.share_id: _disclosure(row) for row in pending if batch_holds(row.subject_keys, key)
    }
    postings = conn.execute(
        sa.select(disclosure_subjects.c.batch_ids).where(
            disclosure_subjects.c.subject_key == bytes.fromhex(key)
        )
    ).scalars()
    ids = sorted({batch_id for packed in postings for batch_id in unpack_batch_ids(packed)})
    details = sa.select(*(batches.c[name] for name in _DETAILS))
    for at in range(0, len(ids), _IDS_AT_ONCE):
        chosen = ids[at : at + _IDS_AT_ONCE]
        query = details.where(batches.c.id.in_(chosen), batches.c.visible_from <= now)
        for row in conn.execute(query):
            found.setdefault(row.share_id, _disclosure(row))
    return sorted(found.values(), key=_newest_first)


def pack_batch_ids(ids: Iterable[int]) -> bytes:
    """Batch ids, ascending, as one run of 8-byte big-endian values (a posting's ids)."""
    ordered = sorted(ids)
    return struct.pack(f">{len(ordered)}Q", *ordered)


def unpack_batch_ids(packed: bytes) -> tuple[int, ...]:
    """The batch ids of a packed posting, ascending."""
    return struct.unpack(f">{len(packed) // ID_BYTES}Q", packed)


def pending_batches(conn: Connection) -> int:
    """Batches written but not yet copied into the per-subject index."""
    query = sa.select(sa.func.count()).where(disclosure_batches.c.indexed_at.is_(None))
    return int(conn.execute(query).scalar_one())


def _disclosure(row: Any) -> Disclosure:
    return Disclosure(
        share_id=row.share_id,
        partner=row.partner,
        dataset=row.dataset,
        purpose=row.purpose,
        legal_basis=row.legal_basis,
        agreement_id=row.agreement_id,
        disclosed_at=row.disclosed_at,
    )


def _newest_first(item: Disclosure) -> tuple[float, str]:
    moment = item.disclosed_at
    if moment.tzinfo is None:  # SQLite returns the stored UTC wall time
        moment = moment.replace(tzinfo=UTC)
    return -moment.timestamp(), item.share_id


def _claim(engine: Engine, now: datetime, budget: int) -> sa.Update:
    """Mark the oldest pending batches (up to ``budget`` subjects, at least one batch) indexed,
    returning their ids, sizes and keys: one statement, so on SQLite it holds the write lock from
    read to write."""
    batches = disclosure_batches
    oldest = (
        sa.select(batches.c.id, batches.c.subject_count)
        .where(batches.c.indexed_at.is_(None))
        .order_by(batches.c.id)
        .limit(_ROUND_BATCHES)
    )
    if engine.dialect.name == "postgresql":
        # Batches another indexer is copying are skipped, not waited for nor copied twice.
        oldest = oldest.with_for_update(skip_locked=True)
    # MATERIALIZED: the locking LIMIT runs once (see the lineage outbox's claim).
    window = oldest.cte("oldest").prefix_with("MATERIALIZED")
    before = sa.func.sum(window.c.subject_count).over(order_by=window.c.id) - window.c.subject_count
    running = sa.select(window.c.id, before.label("before")).subquery("running")
    chosen = sa.select(running.c.id).where(running.c.before < budget)
    return (
        batches.update()
        .where(batches.c.id.in_(chosen), batches.c.indexed_at.is_(None))
        .values(indexed_at=now)
        .returning(batches.c.id, batches.c.subject_count, batches.c.subject_keys)
    )


def postings(claimed: Iterable[Any]) -> list[tuple[bytes, int, bytes]]:
    """The index entries of a round's batches: one per subject, in subject order, as
    (raw key, the posting's first batch id, its packed batch ids)."""
    batches = sorted((batch.id, bytes(batch.subject_keys)) for batch in claimed)
    # Most subjects of a round are in one of its batches: held as that batch's id alone, and
    # as a list only once a second batch names them.
    ids_by_key: dict[bytes, Any] = {}
    for batch_id, packed in batches:
        for key in [packed[at : at + KEY_BYTES] for at in range(0, len(packed), KEY_BYTES)]:
            held = ids_by_key.get(key)
            if held is None:
                ids_by_key[key] = batch_id
            elif type(held) is int:
                ids_by_key[key] = [held, batch_id]
            else:
                held.append(batch_id)
    alone = {batch_id: pack_batch_ids([batch_id]) for batch_id, _ in batches}
    # A batch's keys are in order, so a round of one batch is sorted in one pass.
    return [
        (key, held, alone[held]) if type(held) is int else (key, held[0], pack_batch_ids(held))
        for key, held in sorted(ids_by_key.items())
    ]


def _insert_entries(conn: Connection, claimed: Iterable[Any]) -> int:
    """Write the postings of claimed batches, in subject order so that neighbouring entries
    share index pages. Returns how many subject entries the batches held.

    On PostgreSQL the round is one statement over three arrays; on SQLite it is one
    ``executemany``.
    """
    entries = postings(claimed)
    if not entries:
        return 0
    if conn.dialect.name == "postgresql":
        subjects, firsts, packed = zip(*entries, strict=True)
        conn.exec_driver_sql(
            "INSERT INTO disclosure_subjects (subject_key, first_batch_id, batch_ids) "
            "SELECT * FROM unnest(%s::bytea[], %s::bigint[], %s::bytea[])",
            (list(subjects), list(firsts), list(packed)),
        )
    else:
        conn.exec_driver_sql(
            "INSERT INTO disclosure_subjects (subject_key, first_batch_id, batch_ids) "
            "VALUES (?, ?, ?)",
            entries,
        )
    return sum(len(ids) for _, _, ids in entries) // ID_BYTES


@dataclass(frozen=True, slots=True)
class IndexRound:
    """What one round of the indexer copied."""

    batches: int
    subjects: int

    def full(self, budget: int) -> bool:
        """Whether the round stopped at a limit, so more batches may be pending."""
        return self.subjects >= budget or self.batches >= _ROUND_BATCHES


def index_pending(engine: Engine, now: datetime, budget: int = ROUND_KEYS) -> IndexRound:
    """Copy one round of pending batches into the per-subject index."""
    with sqlite_writer(engine), engine.begin() as conn:
        claimed = conn.execute(_claim(engine, now, budget)).all()
        subjects = _insert_entries(conn, claimed)
    return IndexRound(batches=len(claimed), subjects=subjects)


class DisclosureIndexer(PollingWorker):
    """Copies pending disclosure batches into the per-subject index in a background thread."""

    thread_name = "disclosure-indexer"

    def __init__(
        self,
        engine: Engine,
        clock: Callable[[], float],
        *,
        budget: int = ROUND_KEYS,
        poll_interval: float = 1.0,
        runner_lock: RunnerLock | None = None,
    ) -> None:
        super().__init__(poll_interval=poll_interval, runner_lock=runner_lock)
        self.engine = engine
        self.clock = clock
        self.budget = budget

    def work_once(self) -> bool:
        """One round; True when it was full and more batches may be pending."""
        now = datetime.fromtimestamp(self.clock(), tz=UTC)
        return index_pending(self.engine, now, self.budget).full(self.budget)
