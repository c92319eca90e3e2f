"""Verification of the whole audit chain: every hash, every link and every signed checkpoint."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final

import orjson
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.engine import Connection

from broker.audit.checkpoints import CHECKPOINT_EVERY, Checkpoint, signature_is_valid
from broker.audit.records import ENTRY_FIELDS, FORMAT_VERSION, GENESIS_HASH, utc_timestamp
from broker.audit.tables import audit_checkpoints, audit_log

_COLUMNS = ("seq", "recorded_at", "prev_hash", "hash", *ENTRY_FIELDS)


def _selected(name: str) -> sa.ColumnElement[Any]:
    """A column as verification reads it.

    Timestamps and JSON lists are taken as the drivers hand them over and decoded here, with a
    cache: SQLAlchemy's and psycopg's per-value decoding would cost more than the hashing. The
    JSON columns are cast to text in SQL so that psycopg does not parse them either.
    """
    column = audit_log.c[name]
    if name in ("reasons", "fields_released"):
        return sa.cast(column, sa.Text).label(name)
    if name == "recorded_at":
        return sa.type_coerce(column, sa.Text).label(name)
    return column


_SELECT = [_selected(name) for name in _COLUMNS]
# The hashed document's keys in canonical (sorted) order and where each value sits in a
# selected row: building the dict in this order and encoding it without sort_keys yields the
# canonical bytes of broker.audit.records (orjson keeps the keys in the order given) without
# sorting every record's keys again.
_KEYS = tuple(sorted({*_COLUMNS, "v"} - {"hash"}))
_POSITIONS = tuple(_COLUMNS.index(key) if key != "v" else 0 for key in _KEYS)


def _canonical_time(value: str | datetime) -> str:
    """Canonical UTC text of a stored timestamp (SQLite returns text, PostgreSQL datetimes)."""
    if isinstance(value, str):
        if len(value) == 26 and value[10] == " ":
            # SQLAlchemy's SQLite form of a UTC time, "YYYY-MM-DD HH:MM:SS.ffffff": rewriting it
            # is a one-to-one map, so an altered value can never rebuild the original bytes.
            return f"{value[:10]}T{value[11:]}Z"
        value = datetime.fromisoformat(value)
    return utc_timestamp(value)


class _ListDecoder:
    """Decodes stored JSON lists, remembering recent ones: reason codes and field lists repeat."""

    def __init__(self, capacity: int = 4096) -> None:
        self._cache: dict[str, Any] = {}
        self._capacity = capacity

    def __call__(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        decoded = self._cache.get(value)
        if decoded is None:
            if len(self._cache) >= self._capacity:
                self._cache.clear()
            decoded = self._cache[value] = json.loads(value)
        return decoded


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of verify_chain; ``first_broken_seq`` names the first bad record, if any."""

    length: int
    head_hash: str
    first_broken_seq: int | None
    problem: str | None
    checkpoints_checked: int

    @property
    def ok(self) -> bool:
        """True when the chain and its checkpoints are intact."""
        return self.problem is None


class _ChainWalk:
    """Walks records in seq order, stopping the checks at the first problem."""

    def __init__(
        self,
        checkpoints: list[Checkpoint],
        public_key: Ed25519PublicKey | None,
        *,
        first: int = 1,
        prev_hash: str | None = GENESIS_HASH,
    ):
        # A walk over part of the chain starts at `first`; with prev_hash None the first
        # record's link is left to the caller, who knows the record before it.
        self.length = first - 1
        self.head_hash = prev_hash
        self.first_seq: int | None = None
        self.first_prev_hash: str | None = None
        self.first_broken_seq: int | None = None
        self.problem: str | None = None
        self.checkpoints_checked = 0
        self._checkpoints = {checkpoint.seq: checkpoint for checkpoint in checkpoints}
        self._public_key = public_key
        self._decode = _ListDecoder()

    def fail(self, seq: int, problem: str) -> None:
        self.first_broken_seq, self.problem = seq, problem

    def check(self, rows: Sequence[Sequence[Any]]) -> None:
        """Recompute hashes and links of a batch of records."""
        expected, prev = self.length + 1, self.head_hash
        keys, positions, checkpoints, decode = _KEYS, _POSITIONS, self._checkpoints, self._decode
        sha256, encode = hashlib.sha256, orjson.dumps
        if rows and self.first_seq is None:
            self.first_seq, self.first_prev_hash = rows[0][0], str(rows[0][2])
        for row in rows:
            seq, prev_hash, stored = row[0], row[2], row[3]
            if seq != expected:
                return self.fail(expected, f"record {expected} is missing (next is {seq})")
            if prev is not None and prev_hash != prev:
                return self.fail(seq, f"record {seq} does not link to record {seq - 1}")
            document = dict(zip(keys, [row[i] for i in positions], strict=True))
            document["v"] = FORMAT_VERSION
            try:
                document["recorded_at"] = _canonical_time(row[1])
                document["reasons"] = decode(document["reasons"])
                document["fields_released"] = decode(document["fields_released"])
                # orjson.JSONEncodeError is a TypeError: a stored value with no JSON form.
                canonical = encode(document)
            except (ValueError, TypeError):
                return self.fail(seq, f"record {seq} was altered: a value cannot be read")
            if sha256(canonical).hexdigest() != stored:
                return self.fail(seq, f"record {seq} was altered: its hash does not match")
            if seq in checkpoints and not self._check_checkpoint(checkpoints[seq], stored):
                return None
            prev, expected = stored, expected + 1
            self.length, self.head_hash = seq, stored
        return None

    def _check_checkpoint(self, checkpoint: Checkpoint, record_hash: str) -> bool:
        self.checkpoints_checked += 1
        if self._public_key is not None and not signature_is_valid(checkpoint, self._public_key):
            self.fail(checkpoint.seq, f"checkpoint at record {checkpoint.seq} has a bad signature")
            return False
        if checkpoint.head_hash != record_hash:
            self.fail(checkpoint.seq, f"record {checkpoint.seq} differs from its signed checkpoint")
            return False
        return True

    def check_tail(self) -> None:
        """Checkpoints beyond the last record mean records were cut off the end."""
        beyond = [seq for seq in self._checkpoints if seq > self.length]
        if beyond and self.problem is None:
            self.fail(
                self.length + 1,
                f"chain ends at record {self.length} but a checkpoint vouches for record "
                f"{max(beyond)}: the log was truncated",
            )

    def check_checkpoints_present(self) -> None:
        """A signed chain has a checkpoint at every multiple of CHECKPOINT_EVERY it reaches.

        Applies when checkpoints exist or a key is given (the chain is expected to be signed);
        a missing one was deleted, typically to hide a truncation behind it.
        """
        if self.problem is not None or not (self._checkpoints or self._public_key):
            return
        for seq in range(CHECKPOINT_EVERY, self.length + 1, CHECKPOINT_EVERY):
            if seq not in self._checkpoints:
                self.fail(seq, f"the checkpoint of record {seq} is missing: it was deleted")
                return


def _load_checkpoints(conn: Connection) -> list[Checkpoint]:
    rows = conn.execute(sa.select(audit_checkpoints).order_by(audit_checkpoints.c.seq))
    return [Checkpoint(r.seq, r.head_hash, r.signed_at, r.key_id, r.signature) for r in rows]


def _walk(
    conn: Connection, walk: _ChainWalk, batch_size: int, last: int | None = None
) -> tuple[int, str | None]:
    """Feed records (from the walk's first, up to ``last``) to a walk in seq order; returns how
    many were read and the last one's hash."""
    stream = sa.select(*_SELECT)
    if walk.length > 0:  # from the start, every row counts: one numbered 0 or less is tampering
        stream = stream.where(audit_log.c.seq > walk.length)
    if last is not None:
        stream = stream.where(audit_log.c.seq <= last)
    # yield_per is set on the statement, not the connection, so the caller's later queries
    # on the same connection are not turned into streaming ones.
    stream = stream.order_by(audit_log.c.seq).execution_options(yield_per=batch_size)
    count, head_hash = 0, None
    with conn.execute(stream) as result:
        for rows in result.partitions():
            if walk.problem is None:
                walk.check(rows)
            # Keep reading after a problem so the report still gives the true length and head.
            count, head_hash = count + len(rows), str(rows[-1][3])
    return count, head_hash


def verify_chain(
    conn: Connection, public_key: Ed25519PublicKey | None = None, *, batch_size: int = 20_000
) -> VerifyReport:
    """Recompute the whole chain in seq order; without a key, signatures are not checked."""
    # Checkpoints are read first: each vouches only for records committed before it, so the
    # record stream read afterwards always contains them (no false truncation alarms).
    walk = _ChainWalk(_load_checkpoints(conn), public_key)
    length, head_hash = _walk(conn, walk, batch_size)
    return _finish(walk, length, head_hash or GENESIS_HASH)


PARALLEL_FROM: Final = 200_000
"""Records from which ``verify_chain_parallel`` splits the chain between processes: below it,
starting them costs more than they save."""


@dataclass(frozen=True, slots=True)
class _Stretch:
    """What one process found in records first..last (last None: to the end) of the chain."""

    first: int
    last: int | None
    read: int
    first_seq: int | None
    last_seq: int
    first_prev_hash: str | None
    head_hash: str | None
    first_broken_seq: int | None
    problem: str | None
    checkpoints_checked: int


def verify_stretch(
    database_url: str,
    first: int,
    last: int | None,
    checkpoints: list[Checkpoint],
    public_key: bytes | None,
    batch_size: int = 20_000,
) -> _Stretch:
    """Verify one stretch of the chain on a connection of its own (run in a worker process);
    the link into its first record is left to the caller."""
    from contracts.store import make_engine  # noqa: PLC0415 - only where a process opens one

    key = Ed25519PublicKey.from_public_bytes(public_key) if public_key is not None else None
    walk = _ChainWalk(checkpoints, key, first=first, prev_hash=None)
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            read, head_hash = _walk(conn, walk, batch_size, last)
    finally:
        engine.dispose()
    return _Stretch(
        first=first,
        last=last,
        read=read,
        first_seq=walk.first_seq,
        last_seq=walk.length,
        first_prev_hash=walk.first_prev_hash,
        head_hash=head_hash,
        first_broken_seq=walk.first_broken_seq,
        problem=walk.problem,
        checkpoints_checked=walk.checkpoints_checked,
    )


Mapper = Callable[..., Iterable[_Stretch]]


def verify_chain_parallel(
    database_url: str,
    public_key: Ed25519PublicKey | None = None,
    *,
    jobs: int,
    smallest: int = PARALLEL_FROM,
    mapper: Mapper | None = None,
) -> VerifyReport:
    """``verify_chain`` with the records split into ``jobs`` stretches verified side by side in
    as many processes (each record's hash depends only on the record; the links between
    stretches are checked here). The same report as ``verify_chain`` for the same chain.

    Chains shorter than ``smallest`` records are verified in this process. ``mapper`` runs
    ``verify_stretch`` over the stretches (tests pass the built-in ``map``).
    """
    from contracts.store import make_engine  # noqa: PLC0415

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            checkpoints = _load_checkpoints(conn)
            top = int(conn.execute(sa.select(sa.func.max(audit_log.c.seq))).scalar() or 0)
            if jobs < 2 or top < max(smallest, jobs):
                return verify_chain(conn, public_key)
    finally:
        engine.dispose()
    step = -(-top // jobs)
    firsts = list(range(1, top + 1, step))
    # The last stretch runs to the end, taking records appended meanwhile, as verify_chain does.
    lasts: list[int | None] = [*(first - 1 for first in firsts[1:]), None]
    raw_key = None
    if public_key is not None:
        raw_key = public_key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
    mine = [
        [c for c in checkpoints if c.seq >= first and (last is None or c.seq <= last)]
        for first, last in zip(firsts, lasts, strict=True)
    ]
    arguments = (
        [database_url] * len(firsts),
        firsts,
        lasts,
        mine,
        [raw_key] * len(firsts),
    )
    if mapper is None:
        context = multiprocessing.get_context("spawn")  # the caller may run threads
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            stretches = list(pool.map(verify_stretch, *arguments))
    else:
        stretches = list(mapper(verify_stretch, *arguments))
    return _joined(stretches, checkpoints, public_key)


def _joined(
    stretches: list[_Stretch], checkpoints: list[Checkpoint], public_key: Ed25519PublicKey | None
) -> VerifyReport:
    """One report from the stretches, as one walk over the whole chain would give it."""
    walk = _ChainWalk(checkpoints, public_key)
    length, head_hash = 0, GENESIS_HASH
    for index, stretch in enumerate(stretches):
        following = next((later.first_seq for later in stretches[index + 1 :] if later.read), None)
        if walk.problem is not None:
            pass
        elif not stretch.read:
            # Nothing here: the chain ended before this stretch, or its records are gone.
            if following is not None:
                walk.fail(stretch.first, f"record {stretch.first} is missing (next is {following})")
        elif stretch.first_seq == stretch.first and stretch.first_prev_hash != head_hash:
            walk.fail(
                stretch.first, f"record {stretch.first} does not link to record {stretch.first - 1}"
            )
        elif stretch.first_broken_seq is not None:
            walk.checkpoints_checked += stretch.checkpoints_checked
            walk.fail(stretch.first_broken_seq, str(stretch.problem))
        elif stretch.last is not None and stretch.last_seq < stretch.last and following:
            walk.checkpoints_checked += stretch.checkpoints_checked
            missing = stretch.last_seq + 1
            walk.fail(missing, f"record {missing} is missing (next is {following})")
        else:
            walk.checkpoints_checked += stretch.checkpoints_checked
            walk.length = stretch.last_seq
        length += stretch.read
        head_hash = stretch.head_hash or head_hash
    return _finish(walk, length, head_hash)


def _finish(walk: _ChainWalk, length: int, head_hash: str) -> VerifyReport:
    walk.check_tail()
    walk.check_checkpoints_present()
    return VerifyReport(
        length=length,
        head_hash=head_hash,
        first_broken_seq=walk.first_broken_seq,
        problem=walk.problem,
        checkpoints_checked=walk.checkpoints_checked,
    )


def check_anchor(conn: Connection, report: VerifyReport, seq: int, head_hash: str) -> VerifyReport:
    """Compare the chain with a head exported earlier (a checkpoint kept outside the database).

    Only an outside anchor reveals records cut off after the last checkpoint in the database,
    or a truncation that deleted the checkpoints vouching for the cut records too.
    """
    if report.problem is not None:
        return report
    if seq > report.length:
        problem = (
            f"chain ends at record {report.length} but the anchor vouches for record {seq}: "
            "the log was truncated"
        )
        return replace(report, first_broken_seq=report.length + 1, problem=problem)
    stored = conn.execute(sa.select(audit_log.c.hash).where(audit_log.c.seq == seq)).scalar()
    if stored != head_hash:
        problem = f"record {seq} differs from the anchor"
        return replace(report, first_broken_seq=seq, problem=problem)
    return report
