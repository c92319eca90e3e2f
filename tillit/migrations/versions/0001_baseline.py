"""Tillit's own tables as they were when migrations began (the baseline).

Revision ID: 0001
Revises:
Create Date: 2026-11-23

A database created before migrations by ``metadata.create_all`` is adopted at this revision
by ``tillit db upgrade`` when its tables and columns match it exactly.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create every table Tillit owns, as the store's metadata described them at the baseline."""
    op.create_table(
        "audit_checkpoints",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        comment="Ed25519-signed (seq, head hash) of the audit chain, to detect truncation.",
    )
    op.create_table(
        "audit_log",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("share_id", sa.Text(), nullable=True),
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("subject_kind", sa.Text(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("decision", sa.Text(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=True),
        sa.Column("agreement_version", sa.Text(), nullable=True),
        sa.Column("contract_version", sa.Text(), nullable=True),
        sa.Column("fields_released", sa.JSON(), nullable=False),
        sa.Column("row_count", sa.BigInteger(), nullable=False),
        sa.Column("request_digest", sa.String(length=64), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.CheckConstraint("decision IN ('permit', 'deny')", name="ck_audit_log_decision"),
        sa.CheckConstraint(
            "subject_kind IN ('partner', 'citizen', 'operator')", name="ck_audit_log_subject_kind"
        ),
        sa.CheckConstraint("seq >= 1", name="ck_audit_log_seq_positive"),
        sa.PrimaryKeyConstraint("seq"),
        sa.UniqueConstraint("share_id", name="uq_audit_log_share_id"),
        comment="Append-only, hash-chained record of every share decision (permit or deny).",
    )
    op.create_index("ix_audit_log_partner_seq", "audit_log", ["partner", "seq"])

    op.create_table(
        "dataset_loads",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("contract_version", sa.Text(), nullable=False),
        sa.Column("rows_in", sa.BigInteger(), nullable=False),
        sa.Column("rows_loaded", sa.BigInteger(), nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger(), nullable=False),
        sa.Column("source_drop_id", sa.Text(), nullable=True),
        sa.Column("source_extracted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        comment="One row per dataset write: the reconciliation figures and source freshness.",
    )
    op.create_index("ix_dataset_loads_dataset_loaded_at", "dataset_loads", ["dataset", "loaded_at"])

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
        comment="Who received data about whom, keyed by an HMAC of the identity code, never the code.",
    )
    op.create_index("ix_disclosures_subject", "disclosures", ["subject_key", "visible_from"])

    op.create_table(
        "lineage_events",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("parent_run_id", sa.Text(), nullable=True),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_namespace", sa.Text(), nullable=False),
        sa.Column("job_name", sa.Text(), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
        comment="Every OpenLineage run event received, once each (event_id is its identity hash).",
    )
    op.create_index("ix_lineage_events_event_time", "lineage_events", ["event_time"])
    op.create_index(
        "ix_lineage_events_job", "lineage_events", ["job_namespace", "job_name", "event_time"]
    )
    op.create_index("ix_lineage_events_parent_run_id", "lineage_events", ["parent_run_id"])
    op.create_index("ix_lineage_events_run_id", "lineage_events", ["run_id"])

    op.create_table(
        "lineage_graph_edges",
        sa.Column("job_name", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("dataset_namespace", sa.Text(), nullable=False),
        sa.Column("dataset_name", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("job_name", "direction", "dataset_namespace", "dataset_name"),
        comment="Each distinct job-dataset edge once, with when it was first and last reported.",
    )
    op.create_index(
        "ix_lineage_graph_edges_dataset",
        "lineage_graph_edges",
        ["dataset_namespace", "dataset_name", "direction"],
    )

    op.create_table(
        "lineage_graph_fields",
        sa.Column("output_namespace", sa.Text(), nullable=False),
        sa.Column("output_name", sa.Text(), nullable=False),
        sa.Column("output_field", sa.Text(), nullable=False),
        sa.Column("input_namespace", sa.Text(), nullable=False),
        sa.Column("input_name", sa.Text(), nullable=False),
        sa.Column("input_field", sa.Text(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "output_namespace",
            "output_name",
            "output_field",
            "input_namespace",
            "input_name",
            "input_field",
        ),
        comment="Each distinct field-to-field edge once, with when it was first and last reported.",
    )
    op.create_table(
        "lineage_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id"),
        comment="Lineage events committed with their cause and waiting for (or past) delivery.",
    )
    op.create_index("ix_lineage_outbox_delivered_at", "lineage_outbox", ["delivered_at"])
    op.create_index(
        "ix_lineage_outbox_due",
        "lineage_outbox",
        ["next_attempt_at", "id"],
        postgresql_where=sa.text("delivered_at IS NULL"),
        sqlite_where=sa.text("delivered_at IS NULL"),
    )

    op.create_table(
        "quarantine",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("source_system", sa.Text(), nullable=False),
        sa.Column("source_ref", sa.Text(), nullable=False),
        sa.Column("check_name", sa.Text(), nullable=False),
        sa.Column("column_name", sa.Text(), nullable=True),
        sa.Column("offending_value", sa.Text(), nullable=True),
        sa.Column("failures", sa.JSON(), nullable=False),
        sa.Column("raw_record", sa.JSON(), nullable=False),
        sa.Column("contract_version", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("quarantined_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        comment="Source rows that broke their contract, with the reason; never silently dropped.",
    )
    op.create_index("ix_quarantine_dataset_check", "quarantine", ["dataset", "check_name"])

    op.create_table(
        "share_receipts",
        sa.Column("share_id", sa.Text(), nullable=False),
        sa.Column("partner", sa.Text(), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("agreement_id", sa.Text(), nullable=False),
        sa.Column("agreement_version", sa.Text(), nullable=False),
        sa.Column("contract_version", sa.Text(), nullable=False),
        sa.Column("receipt", sa.JSON(), nullable=False),
        sa.Column("request_digest", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True),
        sa.Column("audit_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("share_id"),
        sa.UniqueConstraint("partner", "idempotency_key", name="uq_share_receipts_idempotency"),
        comment="One receipt per permitted share: what was released, to whom, under what.",
    )
    op.create_index("ix_share_receipts_partner", "share_receipts", ["partner", "created_at"])

    op.create_table(
        "subject_restrictions",
        sa.Column("subject_key", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("subject_key", "kind"),
        comment="Citizens' objections (GDPR Art. 21) and restrictions (Art. 18) of processing.",
    )
    op.create_table(
        "token_replay",
        sa.Column("issuer", sa.Text(), nullable=False),
        sa.Column("jti", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=False, comment="Unix seconds"),
        sa.PrimaryKeyConstraint("issuer", "jti"),
        comment="Spent access-token ids, kept until the token expires, so none is accepted twice.",
    )
    op.create_index("ix_token_replay_expires_at", "token_replay", ["expires_at"])

    op.create_table(
        "lineage_column_edges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("output_namespace", sa.Text(), nullable=False),
        sa.Column("output_name", sa.Text(), nullable=False),
        sa.Column("output_field", sa.Text(), nullable=True),
        sa.Column("input_namespace", sa.Text(), nullable=False),
        sa.Column("input_name", sa.Text(), nullable=False),
        sa.Column("input_field", sa.Text(), nullable=False),
        sa.Column("transformations", sa.JSON(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["lineage_events.event_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        comment="An output field derived from an input field, from the columnLineage facet.",
    )
    op.create_index(
        "ix_lineage_column_edges_input",
        "lineage_column_edges",
        ["input_namespace", "input_name", "input_field", "event_time"],
    )
    op.create_index(
        "ix_lineage_column_edges_output",
        "lineage_column_edges",
        ["output_namespace", "output_name", "output_field", "event_time"],
    )
    op.create_index("ix_lineage_column_edges_run", "lineage_column_edges", ["run_id"])

    op.create_table(
        "lineage_dataset_edges",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=True),
        sa.Column("job_namespace", sa.Text(), nullable=False),
        sa.Column("job_name", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(length=6), nullable=False),
        sa.Column("dataset_namespace", sa.Text(), nullable=False),
        sa.Column("dataset_name", sa.Text(), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("direction IN ('input', 'output')", name="ck_lineage_dataset_direction"),
        sa.ForeignKeyConstraint(["event_id"], ["lineage_events.event_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        comment="A run read (input) or wrote (output) a dataset, as one event reported it.",
    )
    op.create_index(
        "ix_lineage_dataset_edges_dataset",
        "lineage_dataset_edges",
        ["dataset_namespace", "dataset_name", "direction", "event_time"],
    )
    op.create_index("ix_lineage_dataset_edges_event_time", "lineage_dataset_edges", ["event_time"])
    op.create_index(
        "ix_lineage_dataset_edges_run", "lineage_dataset_edges", ["run_id", "direction"]
    )


def downgrade() -> None:
    """Drop every table Tillit owns (their indexes go with them)."""
    op.drop_table("lineage_dataset_edges")
    op.drop_table("lineage_column_edges")
    op.drop_table("token_replay")
    op.drop_table("subject_restrictions")
    op.drop_table("share_receipts")
    op.drop_table("quarantine")
    op.drop_table("lineage_outbox")
    op.drop_table("lineage_graph_fields")
    op.drop_table("lineage_graph_edges")
    op.drop_table("lineage_events")
    op.drop_table("disclosures")
    op.drop_table("dataset_loads")
    op.drop_table("audit_log")
    op.drop_table("audit_checkpoints")
