"""Tables the broker owns: share receipts, the citizens' disclosure index and objections."""

from __future__ import annotations

import sqlalchemy as sa

from contracts.store import metadata

share_receipts = sa.Table(
    "share_receipts",
    metadata,
    sa.Column("share_id", sa.Text, primary_key=True),
    sa.Column("partner", sa.Text, nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("legal_basis", sa.Text, nullable=False),
    sa.Column("agreement_id", sa.Text, nullable=False),
    sa.Column("agreement_version", sa.Text, nullable=False),
    sa.Column("contract_version", sa.Text, nullable=False),
    sa.Column("receipt", sa.JSON, nullable=False),
    sa.Column("request_digest", sa.Text, nullable=False),
    sa.Column("idempotency_key", sa.Text),
    sa.Column("audit_seq", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.UniqueConstraint("partner", "idempotency_key", name="uq_share_receipts_idempotency"),
    sa.Index("ix_share_receipts_partner", "partner", "created_at"),
    comment="One receipt per permitted share: what was released, to whom, under what.",
)

disclosure_batches = sa.Table(
    "disclosure_batches",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("share_id", sa.Text, nullable=False),
    sa.Column("partner", sa.Text, nullable=False),
    sa.Column("dataset", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("legal_basis", sa.Text, nullable=False),
    sa.Column("agreement_id", sa.Text, nullable=False),
    sa.Column("disclosed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("visible_from", sa.DateTime(timezone=True), nullable=False),
    # The released subjects' keys as sorted raw 32-byte HMACs, one after another.
    sa.Column("subject_keys", sa.LargeBinary, nullable=False),
    sa.Column("subject_count", sa.Integer, nullable=False),
    # Set in the transaction that copies the batch into `disclosure_subjects`; NULL while
    # pending.
    sa.Column("indexed_at", sa.DateTime(timezone=True)),
    sa.Index(
        "ix_disclosure_batches_pending",
        "id",
        postgresql_where=sa.text("indexed_at IS NULL"),
        sqlite_where=sa.text("indexed_at IS NULL"),
    ),
    comment="The subjects of each share (or stream chunk), written with its audit record and "
    "copied into the per-subject disclosure index in the background.",
)

disclosure_subjects = sa.Table(
    "disclosure_subjects",
    metadata,
    # The raw 32-byte HMAC of the identity code, never the code.
    sa.Column("subject_key", sa.LargeBinary, primary_key=True),
    # The lowest of the posting's batch ids: a batch is indexed once, so postings written by
    # different rounds (or concurrent indexers) never share it.
    sa.Column(
        "first_batch_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    # The ids of the round's batches that hold the subject, ascending, 8 bytes big-endian each.
    sa.Column("batch_ids", sa.LargeBinary, nullable=False),
    # On SQLite the rows live in the key's own B-tree: no second copy in a separate index.
    sqlite_with_rowid=False,
    comment="The per-subject disclosure index: one posting per subject and indexing round, "
    "naming the share batches that released data about them. The share's details are read "
    "from disclosure_batches.",
)

subject_restrictions = sa.Table(
    "subject_restrictions",
    metadata,
    sa.Column("subject_key", sa.Text, primary_key=True),
    sa.Column("kind", sa.Text, primary_key=True),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.Text),
    comment="Citizens' objections (GDPR Art. 21) and restrictions (Art. 18) of processing.",
)
from broker.store.consents import subject_consents  # noqa: E402,F401  (registers the table)
