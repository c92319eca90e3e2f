"""Citizens' consents (GDPR Art. 6(1)(a)): every grant and revocation, never deleted.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``subject_consents`` and its lookup indexes."""
    op.create_table(
        "subject_consents",
        sa.Column("consent_id", sa.Text(), nullable=False),
        sa.Column("subject_key", sa.Text(), nullable=False),
        sa.Column("subject_sealed", sa.Text(), nullable=False),
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("agreement_version", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("grant_audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoke_audit_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("consent_id"),
        comment="Citizens' consents, keyed by an HMAC of the identity code; never deleted.",
    )
    op.create_index(
        "ix_subject_consents_scope", "subject_consents", ["partner", "dataset", "purpose"]
    )
    op.create_index(
        "ix_subject_consents_subject", "subject_consents", ["subject_key", "granted_at"]
    )


def downgrade() -> None:
    """Drop ``subject_consents`` (its indexes go with it)."""
    op.drop_index("ix_subject_consents_subject", table_name="subject_consents")
    op.drop_index("ix_subject_consents_scope", table_name="subject_consents")
    op.drop_table("subject_consents")
