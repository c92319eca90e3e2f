"""Append-only, hash-chained, tamper-evident audit log of every share decision.

Its tables are created and changed by the migrations in ``tillit.migrations``.
"""

from broker.audit.chain import AUDIT_LOCK_KEY, append, audit_transaction, chain_head
from broker.audit.checkpoints import (
    Checkpoint,
    CheckpointSigner,
    generate_signing_key,
    load_signing_key,
    load_verify_key,
    maybe_checkpoint,
    public_key_pem,
    write_checkpoint,
)
from broker.audit.records import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    caller_fields,
    record_hash,
    request_digest,
    subject_kind_for,
)
from broker.audit.tables import audit_checkpoints, audit_log
from broker.audit.verify import VerifyReport, verify_chain

__all__ = [
    "AUDIT_LOCK_KEY",
    "GENESIS_HASH",
    "AuditEntry",
    "AuditRecord",
    "Checkpoint",
    "CheckpointSigner",
    "VerifyReport",
    "append",
    "audit_checkpoints",
    "audit_log",
    "audit_transaction",
    "caller_fields",
    "chain_head",
    "generate_signing_key",
    "load_signing_key",
    "load_verify_key",
    "maybe_checkpoint",
    "public_key_pem",
    "record_hash",
    "request_digest",
    "subject_kind_for",
    "verify_chain",
    "write_checkpoint",
]
