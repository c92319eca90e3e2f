"""Verification of the whole audit chain: every hash, every link and every signed checkpoint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
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
# canonical bytes of broker.audit.records without sorting every record's keys again.
_KEYS = tuple(sorted({*_COLUMNS, "v"} - {"hash"}))
_POSITIONS = tuple(_COLUMNS.index(key) if key != "v" else 0 for key in _KEYS)
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


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

    def __init__(self, checkpoints: list[Checkpoint], public_key: Ed25519PublicKey | None):
        self.length = 0
        self.head_hash = GENESIS_HASH
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
        sha256, encode = hashlib.sha256, _encode
        for row in rows:
            seq, prev_hash, stored = row[0], row[2], row[3]
            if seq != expected:
                return self.fail(expected, f"record {expected} is missing (next is {seq})")
            if prev_hash != prev:
                return self.fail(seq, f"record {seq} does not link to record {seq - 1}")
            document = dict(zip(keys, [row[i] for i in positions], strict=True))
            try:
                document["recorded_at"] = _canonical_time(row[1])
                document["reasons"] = decode(document["reasons"])
                document["fields_released"] = decode(document["fields_released"])
            except (ValueError, TypeError):
                return self.fail(seq, f"record {seq} was altered: a value cannot be read")
            document["v"] = FORMAT_VERSION
            canonical = encode(document).encode("utf-8")
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


def verify_chain(
    conn: Connection, public_key: Ed25519PublicKey | None = None, *, batch_size: int = 20_000
) -> VerifyReport:
    """Recompute the whole chain in seq order; without a key, signatures are not checked."""
    # Checkpoints are read first: each vouches only for records committed before it, so the
    # record stream read afterwards always contains them (no false truncation alarms).
    walk = _ChainWalk(_load_checkpoints(conn), public_key)
    # yield_per is set on the statement, not the connection, so the caller's later queries
    # on the same connection are not turned into streaming ones.
    stream = sa.select(*_SELECT).order_by(audit_log.c.seq).execution_options(yield_per=batch_size)
    length, head_hash = 0, GENESIS_HASH
    with conn.execute(stream) as result:
        for rows in result.partitions():
            if walk.problem is None:
                walk.check(rows)
            # Keep reading after a problem so the report still gives the true length and head.
            length, head_hash = length + len(rows), str(rows[-1][3])
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
