"""The per-subject disclosure index as posting lists: one entry per subject and round.

``disclosure_subjects`` held one entry per subject and batch, so a person released by a
hundred shares cost a hundred index entries. It now holds one posting per subject and
indexing round: the raw key, the round's first batch id holding it, and the ids of all the
round's batches holding it, packed. Both forms are derived from the indexed batches' packed
keys, so each direction rebuilds the index from ``disclosure_batches``: nothing is lost, and
pending batches stay pending.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

import struct
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.engine import Connection

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY_BYTES = 32
_BATCHES_AT_ONCE = 200
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_batches = sa.table(
    "disclosure_batches", sa.column("id"), sa.column("subject_keys"), sa.column("indexed_at")
)
_entries = sa.table("disclosure_subjects", sa.column("subject_key"), sa.column("batch_id"))
_postings = sa.table(
    "disclosure_subjects",
    sa.column("subject_key"),
    sa.column("first_batch_id"),
    sa.column("batch_ids"),
)


def upgrade() -> None:
    """Replace the per-batch entries with postings rebuilt from the indexed batches."""
    op.drop_table("disclosure_subjects")
    op.create_table(
        "disclosure_subjects",
        sa.Column("subject_key", sa.LargeBinary(), nullable=False),
        sa.Column("first_batch_id", _ID, nullable=False),
        sa.Column("batch_ids", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("subject_key", "first_batch_id"),
        sqlite_with_rowid=False,
        comment="The per-subject disclosure index: one posting per subject and indexing round, "
        "naming the share batches that released data about them. The share's details are read "
        "from disclosure_batches.",
    )
    # SQL printed for review (``--sql``) starts from an empty database: there is nothing to move.
    if not context.is_offline_mode():
        conn = op.get_bind()
        for batches in _indexed_batches(conn):
            ids_by_key: dict[bytes, list[int]] = {}
            for batch in batches:
                for key in _unpack(batch["subject_keys"]):
                    ids_by_key.setdefault(key, []).append(batch["id"])
            postings = [
                {
                    "subject_key": key,
                    "first_batch_id": ids[0],
                    "batch_ids": struct.pack(f">{len(ids)}Q", *ids),
                }
                for key, ids in sorted(ids_by_key.items())
            ]
            if postings:
                conn.execute(_postings.insert(), postings)


def downgrade() -> None:
    """Replace the postings with one entry per subject and batch, rebuilt from the batches."""
    op.drop_table("disclosure_subjects")
    op.create_table(
        "disclosure_subjects",
        sa.Column("subject_key", sa.LargeBinary(), nullable=False),
        sa.Column("batch_id", _ID, nullable=False),
        sa.PrimaryKeyConstraint("subject_key", "batch_id"),
        sqlite_with_rowid=False,
        comment="The per-subject disclosure index: which share batches released data about "
        "whom. The share's details are read from disclosure_batches.",
    )
    if not context.is_offline_mode():
        conn = op.get_bind()
        for batches in _indexed_batches(conn):
            entries = [
                {"subject_key": key, "batch_id": batch["id"]}
                for batch in batches
                for key in _unpack(batch["subject_keys"])
            ]
            if entries:
                conn.execute(_entries.insert(), entries)


def _indexed_batches(conn: Connection) -> Iterator[list[Any]]:
    """The indexed batches (ids and keys), a few at a time, oldest first."""
    indexed = sa.select(_batches.c.id).where(_batches.c.indexed_at.isnot(None))
    ids = conn.execute(indexed.order_by(_batches.c.id)).scalars().all()
    for at in range(0, len(ids), _BATCHES_AT_ONCE):
        chosen = ids[at : at + _BATCHES_AT_ONCE]
        query = sa.select(_batches).where(_batches.c.id.in_(chosen)).order_by(_batches.c.id)
        yield list(conn.execute(query).mappings())


def _unpack(packed: bytes) -> Iterator[bytes]:
    packed = bytes(packed)
    return (packed[at : at + _KEY_BYTES] for at in range(0, len(packed), _KEY_BYTES))
