"""The audit log tables, on the sharing store's metadata (migrated by ``tillit db upgrade``)."""

from __future__ import annotations

import sqlalchemy as sa

from contracts.store import metadata

_SEQ = sa.BigInteger().with_variant(sa.Integer, "sqlite")

audit_log = sa.Table(
    "audit_log",
    metadata,
    # seq is assigned by the chain (1, 2, 3, ...) under the chain lock, never by the database.
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("share_id", sa.Text),
    sa.Column("partner", sa.Text, nullable=False),
    sa.Column("issuer", sa.Text, nullable=False),
    sa.Column("jti", sa.Text, nullable=False),
    sa.Column("subject_kind", sa.Text, nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("legal_basis", sa.Text, nullable=False),
    sa.Column("decision", sa.Text, nullable=False),
    sa.Column("reasons", sa.JSON, nullable=False),
    sa.Column("agreement_id", sa.Text),
    sa.Column("agreement_version", sa.Text),
    sa.Column("contract_version", sa.Text),
    sa.Column("fields_released", sa.JSON, nullable=False),
    sa.Column("row_count", sa.BigInteger, nullable=False),
    sa.Column("request_digest", sa.String(64), nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.UniqueConstraint("share_id", name="uq_audit_log_share_id"),
    sa.CheckConstraint("seq >= 1", name="ck_audit_log_seq_positive"),
    sa.CheckConstraint("decision IN ('permit', 'deny')", name="ck_audit_log_decision"),
    sa.CheckConstraint(
        "subject_kind IN ('partner', 'citizen', 'operator')", name="ck_audit_log_subject_kind"
    ),
    sa.Index("ix_audit_log_partner_seq", "partner", "seq"),
    comment="Append-only, hash-chained record of every share decision (permit or deny).",
)

audit_checkpoints = sa.Table(
    "audit_checkpoints",
    metadata,
    # No foreign key to audit_log on purpose: a checkpoint must outlive a truncated chain so
    # that verification can notice the records it vouched for are gone.
    sa.Column("seq", _SEQ, primary_key=True, autoincrement=False),
    sa.Column("head_hash", sa.String(64), nullable=False),
    sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("key_id", sa.Text, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),
    comment="Ed25519-signed (seq, head hash) of the audit chain, to detect truncation.",
)
