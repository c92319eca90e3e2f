"""Disclosure batches: a share's subjects in one row, indexed per subject in the background.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEY_BYTES = 32
_PENDING = sa.text("indexed_at IS NULL")


def upgrade() -> None:
    """Create ``disclosure_batches`` and the index of its pending rows."""
    op.create_table(
        "disclosure_batches",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("share_id", sa.Text(), nullable=False),
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("visible_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subject_keys", sa.LargeBinary(), nullable=False),
        sa.Column("subject_count", sa.Integer(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        comment="The subjects of each share (or stream chunk), written with its audit record "
        "and copied into the per-subject disclosure index in the background.",
    )
    op.create_index(
        "ix_disclosure_batches_pending",
        "disclosure_batches",
        ["id"],
        postgresql_where=_PENDING,
        sqlite_where=_PENDING,
    )


def downgrade() -> None:
    """Copy batches not yet indexed into ``disclosures`` (nothing is lost), then drop the table."""
    conn = op.get_bind()
    batches = sa.table(
        "disclosure_batches",
        *(
            sa.column(name)
            for name in (
                "share_id",
                "partner",
                "dataset",
                "purpose",
                "legal_basis",
                "agreement_id",
                "disclosed_at",
                "visible_from",
                "subject_keys",
                "indexed_at",
            )
        ),
    )
    disclosures = sa.table(
        "disclosures",
        *(
            sa.column(name)
            for name in (
                "subject_key",
                "share_id",
                "partner",
                "dataset",
                "purpose",
                "legal_basis",
                "agreement_id",
                "disclosed_at",
                "visible_from",
            )
        ),
    )
    pending = conn.execute(sa.select(batches).where(batches.c.indexed_at.is_(None))).mappings()
    for batch in pending.all():
        packed = bytes(batch["subject_keys"])
        common = {name: batch[name] for name in batch if name not in ("subject_keys", "indexed_at")}
        rows = [
            {"subject_key": packed[at : at + _KEY_BYTES].hex(), **common}
            for at in range(0, len(packed), _KEY_BYTES)
        ]
        if rows:
            conn.execute(disclosures.insert(), rows)
    op.drop_index("ix_disclosure_batches_pending", table_name="disclosure_batches")
    op.drop_table("disclosure_batches")
