"""A narrow per-subject disclosure index: the raw key and its batch, the details kept once.

``disclosures`` repeated a share's details (about 250 bytes) under a 64-character hex key in
every entry. ``disclosure_subjects`` holds only the raw 32-byte key and the id of the
``disclosure_batches`` row that carries the details. Upgrading moves the whole index over:
entries of batches already indexed are rebuilt from their packed keys, and entries written
before batches existed (or by a subject's own data export) are first gathered into batches of
their own, one per share. Nothing is lost either way: downgrading rebuilds ``disclosures``
from the indexed batches.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY_BYTES = 32
_DETAILS = (
    "share_id",
    "partner",
    "dataset",
    "purpose",
    "legal_basis",
    "agreement_id",
    "disclosed_at",
    "visible_from",
)
_COLUMNS = ", ".join(_DETAILS)
# The numbers 0 .. (largest indexed batch - 1), to unpack each batch's keys inside the database.
_NUMBERS = (
    "WITH RECURSIVE numbers(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM numbers WHERE i + 1 < "
    "(SELECT coalesce(max(subject_count), 0) FROM disclosure_batches "
    "WHERE indexed_at IS NOT NULL)) "
)
_INDEXED_KEYS = (
    "FROM disclosure_batches AS b JOIN numbers AS n ON n.i < b.subject_count "
    "WHERE b.indexed_at IS NOT NULL"
)
_KEY = f"substr(b.subject_keys, n.i * {_KEY_BYTES} + 1, {_KEY_BYTES})"


def upgrade() -> None:
    """Create ``disclosure_subjects``, move every ``disclosures`` entry into it, drop the old."""
    op.create_table(
        "disclosure_subjects",
        sa.Column("subject_key", sa.LargeBinary(), nullable=False),
        sa.Column("batch_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("subject_key", "batch_id"),
        sqlite_with_rowid=False,
        comment="The per-subject disclosure index: which share batches released data about "
        "whom. The share's details are read from disclosure_batches.",
    )
    _batch_unbatched_entries()
    op.execute(
        f"{_NUMBERS}INSERT INTO disclosure_subjects (subject_key, batch_id) "
        f"SELECT {_KEY}, b.id {_INDEXED_KEYS}"
    )
    op.drop_index("ix_disclosures_subject", table_name="disclosures")
    op.drop_table("disclosures")


def downgrade() -> None:
    """Rebuild ``disclosures`` from the indexed batches, then drop ``disclosure_subjects``."""
    op.create_table(
        "disclosures",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("subject_key", sa.Text(), nullable=False),
        sa.Column("share_id", sa.Text(), nullable=False),
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_from", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        comment="Who received data about whom, keyed by an HMAC of the identity code, "
        "never the code.",
    )
    op.create_index("ix_disclosures_subject", "disclosures", ["subject_key", "visible_from"])
    if op.get_context().dialect.name == "postgresql":
        hex_key = f"encode({_KEY}, 'hex')"
    else:
        hex_key = f"lower(hex({_KEY}))"
    details = ", ".join(f"b.{name}" for name in _DETAILS)
    op.execute(
        f"{_NUMBERS}INSERT INTO disclosures (subject_key, {_COLUMNS}) "
        f"SELECT {hex_key}, {details} {_INDEXED_KEYS} ORDER BY b.id"
    )
    op.drop_table("disclosure_subjects")


def _batch_unbatched_entries() -> None:
    """Gather the ``disclosures`` entries of shares without a batch into indexed batches, one
    per share (and visibility), holding its distinct keys packed and sorted as batches do."""
    unbatched = "FROM disclosures WHERE share_id NOT IN (SELECT share_id FROM disclosure_batches)"
    target = (
        f"INSERT INTO disclosure_batches ({_COLUMNS}, subject_keys, subject_count, indexed_at) "
    )
    if op.get_context().dialect.name == "postgresql":
        raw = "decode(subject_key, 'hex')"
        op.execute(
            f"{target}SELECT {_COLUMNS}, string_agg(DISTINCT {raw}, ''::bytea ORDER BY {raw}), "
            f"count(DISTINCT subject_key), now() {unbatched} GROUP BY {_COLUMNS} ORDER BY min(id)"
        )
        return
    if context.is_offline_mode():
        return  # SQL printed for review starts from an empty database: there are no entries.
    # SQLite before 3.41 cannot turn hex back into bytes, so the keys are packed here.
    conn = op.get_bind()
    entries = conn.execute(sa.text(f"SELECT subject_key, {_COLUMNS} {unbatched} ORDER BY id"))
    shares: dict[tuple[Any, ...], set[bytes]] = {}
    for entry in entries:
        shares.setdefault(tuple(entry[1:]), set()).add(bytes.fromhex(entry.subject_key))
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # as SQLAlchemy stores UTC
    for share, keys in shares.items():
        conn.execute(
            sa.text(
                f"{target}VALUES ({', '.join(f':{name}' for name in _DETAILS)}, "
                ":subject_keys, :subject_count, :indexed_at)"
            ),
            {
                **dict(zip(_DETAILS, share, strict=True)),
                "subject_keys": b"".join(sorted(keys)),
                "subject_count": len(keys),
                "indexed_at": now,
            },
        )
