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

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.engine import Connection

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY_BYTES = 32
_BATCHES_AT_ONCE = 100
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
_batches = sa.table(
    "disclosure_batches",
    sa.column("id"),
    *(sa.column(name) for name in _DETAILS),
    sa.column("subject_keys"),
    sa.column("subject_count"),
    sa.column("indexed_at"),
)
_wide = sa.table(
    "disclosures",
    sa.column("id"),
    sa.column("subject_key"),
    *(sa.column(name) for name in _DETAILS),
)
_narrow = sa.table("disclosure_subjects", sa.column("subject_key"), sa.column("batch_id"))


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
    # SQL printed for review (``--sql``) starts from an empty database: there is nothing to move.
    if not context.is_offline_mode():
        conn = op.get_bind()
        _batch_unbatched_entries(conn)
        for batches in _indexed_batches(conn):
            entries = [
                {"subject_key": key, "batch_id": batch["id"]}
                for batch in batches
                for key in _unpack(batch["subject_keys"])
            ]
            if entries:
                conn.execute(_narrow.insert(), entries)
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
    if not context.is_offline_mode():
        conn = op.get_bind()
        for batches in _indexed_batches(conn):
            rows = [
                {"subject_key": key.hex(), **{name: batch[name] for name in _DETAILS}}
                for batch in batches
                for key in _unpack(batch["subject_keys"])
            ]
            if rows:
                conn.execute(_wide.insert(), rows)
    op.drop_table("disclosure_subjects")


def _batch_unbatched_entries(conn: Connection) -> None:
    """Gather the ``disclosures`` entries of shares without a batch into indexed batches, one
    per share (and visibility), holding its distinct keys packed and sorted as batches do."""
    unbatched = (
        sa.select(_wide)
        .where(_wide.c.share_id.not_in(sa.select(_batches.c.share_id)))
        .order_by(_wide.c.id)
    )
    shares: dict[tuple[Any, ...], set[bytes]] = {}
    for entry in conn.execute(unbatched).mappings():
        share = tuple(entry[name] for name in _DETAILS)
        shares.setdefault(share, set()).add(bytes.fromhex(entry["subject_key"]))
    now: datetime | str = datetime.now(UTC)
    if conn.dialect.name == "sqlite":  # written as SQLAlchemy writes UTC times there
        now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    for share, keys in shares.items():
        conn.execute(
            _batches.insert(),
            {
                **dict(zip(_DETAILS, share, strict=True)),
                "subject_keys": b"".join(sorted(keys)),
                "subject_count": len(keys),
                "indexed_at": now,
            },
        )


def _indexed_batches(conn: Connection) -> Iterator[list[Any]]:
    """The indexed batches (details and keys), a few at a time, oldest first."""
    indexed = sa.select(_batches.c.id).where(_batches.c.indexed_at.isnot(None))
    ids = conn.execute(indexed.order_by(_batches.c.id)).scalars().all()
    for at in range(0, len(ids), _BATCHES_AT_ONCE):
        chosen = ids[at : at + _BATCHES_AT_ONCE]
        query = sa.select(_batches).where(_batches.c.id.in_(chosen)).order_by(_batches.c.id)
        yield list(conn.execute(query).mappings())


def _unpack(packed: bytes) -> Iterator[bytes]:
    packed = bytes(packed)
    return (packed[at : at + _KEY_BYTES] for at in range(0, len(packed), _KEY_BYTES))
