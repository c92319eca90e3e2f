"""Builders shared by the audit tests and the worker processes they spawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from broker.audit import (
    AuditEntry,
    CheckpointSigner,
    append,
    audit_log,
    audit_transaction,
    maybe_checkpoint,
    request_digest,
)

T0 = datetime(2026, 3, 2, 8, 15, tzinfo=UTC)


def make_entry(index: int, *, partner: str = "lahti-education", **overrides: Any) -> AuditEntry:
    """A realistic permit (or, for odd indexes, deny) of a share request."""
    permit = index % 2 == 0
    values: dict[str, Any] = {
        "share_id": f"shr_{partner}_{index:06d}" if permit else None,
        "partner": partner,
        "issuer": f"https://idp.example.fi/{partner}",
        "jti": f"{partner}-{index}",
        "subject_kind": "partner",
        "dataset": "ece_placements",
        "purpose": "ece_placement",
        "legal_basis": "ecec-act-540-2018",
        "decision": "permit" if permit else "deny",
        "reasons": ["permitted"] if permit else ["purpose_not_permitted"],
        "agreement_id": "lahti-education-ece" if permit else None,
        "agreement_version": "1.2.0" if permit else None,
        "contract_version": "1.0.0" if permit else None,
        "fields_released": ["child_id", "district", "start_date"] if permit else [],
        "row_count": 40 + index if permit else 0,
        "request_digest": request_digest({"dataset": "ece_placements", "n": index}),
    }
    values.update(overrides)
    return AuditEntry(**values)


def fill(
    engine: Engine,
    count: int,
    *,
    signer: CheckpointSigner | None = None,
    every: int = 100,
    start: int = 0,
) -> None:
    """Append ``count`` records, one transaction each, checkpointing like the broker does."""
    for index in range(start, start + count):
        now = T0 + timedelta(seconds=index, microseconds=index)
        with audit_transaction(engine) as conn:
            append(conn, make_entry(index), now)
            if signer is not None:
                maybe_checkpoint(conn, signer, now, every=every)


def record(conn: Connection, seq: int) -> dict[str, Any]:
    """One stored audit record as a plain mapping."""
    row = conn.execute(sa.select(audit_log).where(audit_log.c.seq == seq)).one()
    return dict(row._mapping)


def set_record(engine: Engine, position: int, **values: Any) -> None:
    """Tamper with the stored record at seq ``position`` behind the chain's back."""
    with engine.begin() as conn:
        conn.execute(sa.update(audit_log).where(audit_log.c.seq == position).values(**values))
