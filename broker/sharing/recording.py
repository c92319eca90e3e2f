"""Recording a share decision: the audit record, the receipt, the subjects disclosed (for the
citizens' disclosure index) and the lineage event, all in one chain-locked transaction."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from broker.audit import (
    GENESIS_HASH,
    AuditEntry,
    AuditRecord,
    CheckpointSigner,
    append,
    audit_transaction,
    caller_fields,
    maybe_checkpoint,
)
from broker.auth.principal import Principal
from broker.auth.verifier import TokenUse
from broker.errors import ServiceUnavailable
from broker.policy.model import Decision
from broker.privacy import Columns, k_anonymity_warnings
from broker.runtime import BrokerRuntime
from broker.sharing.models import ShareReceipt, ShareRequestBody
from broker.store import rows as store_rows
from broker.store.disclosures import record_packed
from broker.store.tables import share_receipts
from contracts.sqlite_direct import insert_row, run_on_driver, sqlite_driver
from lineage.events import share_complete_dict, with_audit_position
from lineage.namespaces import share_run_id
from lineage.outbox import enqueue

logger = logging.getLogger(__name__)


UNWRITABLE: Final = "the audit log cannot be written; nothing was released"


class AuditTransactionLost(ServiceUnavailable):
    """A failed part of an audit transaction could not be taken back alone: the whole
    transaction has failed, and nothing of it is released (503)."""

    def __init__(self) -> None:
        super().__init__(UNWRITABLE)


def unwritable(error: SQLAlchemyError) -> ServiceUnavailable:
    """The 503 of a request whose audit record could not be written (caused by `error`)."""
    unavailable = ServiceUnavailable(UNWRITABLE)
    unavailable.__cause__ = error
    return unavailable


@dataclass(frozen=True)
class PreparedPermit:
    """A permit's audit entry, receipt, lineage event and receipt row, before its audit seq."""

    entry: AuditEntry
    receipt: ShareReceipt
    event: dict[str, Any]
    receipt_row: dict[str, Any]


class ShareRecorder:
    """Writes what the broker must remember about a share before any of it leaves."""

    def __init__(self, runtime: BrokerRuntime) -> None:
        self.runtime = runtime
        self._signer = CheckpointSigner(runtime.secrets.checkpoint_key)

    def append(self, conn: Connection, entry: AuditEntry) -> AuditRecord:
        """Append to the chain and sign a checkpoint of the head every hundred records."""
        now = self.runtime.now()
        record = append(conn, entry, now)
        maybe_checkpoint(conn, self._signer, now)
        return record

    @contextmanager
    def audited(self, use: TokenUse | None = None, *, wait: bool = True) -> Iterator[Connection]:
        """The chain-locked audit transaction; any database failure becomes a 503.

        With the request's token `use`, its id is spent first, in the same transaction: a
        replayed token gets 401 and leaves no record, and a committed record is never left
        beside a token that could be used again. Without `wait`, WriteTurnBusy is raised at
        once, before anything is written, where the transaction would wait for another writer.
        """
        try:
            with audit_transaction(self.runtime.engine, wait=wait) as conn:
                if use is not None:
                    use.spend_in(conn)
                yield conn
        except SQLAlchemyError as error:
            logger.error("audit log not writable, nothing released: %s", error)
            raise unwritable(error) from error

    @contextmanager
    def apart(self, conn: Connection) -> Iterator[None]:
        """A part of the open audit transaction that is taken back alone if it fails (a
        savepoint; on SQLite sent to sqlite3 itself). Where the part cannot be taken back alone
        (SQLite rolls a whole transaction back on a full disk), AuditTransactionLost is raised:
        the transaction as a whole has failed."""
        driver = sqlite_driver(conn)

        def run(*statements: str) -> None:
            try:
                for sql in statements:
                    if driver is None:
                        conn.exec_driver_sql(sql)
                    else:
                        run_on_driver(driver, sql)
            except SQLAlchemyError as error:
                raise AuditTransactionLost() from error

        run("SAVEPOINT tillit_part")
        try:
            yield
        except BaseException:
            run("ROLLBACK TO SAVEPOINT tillit_part", "RELEASE SAVEPOINT tillit_part")
            if driver is not None and not driver.in_transaction:
                raise AuditTransactionLost() from None
            raise
        run("RELEASE SAVEPOINT tillit_part")

    def entry(
        self,
        principal: Principal,
        body: ShareRequestBody,
        decision: Decision,
        digest: str,
        *,
        share_id: str | None = None,
        fields: list[str] | None = None,
        row_count: int = 0,
    ) -> AuditEntry:
        agreement = decision.agreement
        dataset = self.runtime.datasets.get(body.dataset)
        return AuditEntry(
            share_id=share_id,
            **caller_fields(principal),
            dataset=body.dataset,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            decision="permit" if decision.allowed else "deny",
            reasons=[reason.code for reason in decision.reasons],
            agreement_id=agreement.id if agreement else None,
            agreement_version=agreement.version if agreement else None,
            contract_version=dataset.version if dataset else None,
            fields_released=fields or [],
            row_count=row_count,
            request_digest=digest,
        )

    def receipt(
        self,
        share_id: str,
        body: ShareRequestBody,
        decision: Decision,
        released: Columns,
        audit_seq: int,
        row_count: int,
    ) -> ShareReceipt:
        obligations = decision.obligations
        assert obligations is not None and decision.agreement is not None  # noqa: S101
        dataset = self.runtime.datasets[body.dataset]
        quasi = [name for name in dataset.quasi_identifiers() if name in released]
        warnings = [] if obligations.aggregate_only else k_anonymity_warnings(released, quasi)
        return ShareReceipt(
            share_id=share_id,
            dataset=body.dataset,
            contract_version=dataset.version,
            agreement_id=decision.agreement.id,
            agreement_version=decision.agreement.version,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            fields=list(released),
            withheld_fields=[{"field": w.field, "reason": w.reason} for w in obligations.withheld],  # type: ignore[misc]
            transforms=dict(obligations.transforms),
            aggregate=obligations.aggregate_only,
            row_count=row_count,
            warnings=warnings,
            audit_seq=audit_seq,
            created_at=self.runtime.now(),
        )

    def prepare_permit(
        self,
        principal: Principal,
        body: ShareRequestBody,
        decision: Decision,
        digest: str,
        released: Columns,
        idempotency_key: str | None,
        row_count: int | None = None,
    ) -> PreparedPermit:
        """Everything a permit records that does not depend on the chain: built before the
        chain lock is taken, so the audit transaction only appends and inserts."""
        share_id = share_run_id()
        count = store_rows.row_count(released) if row_count is None else row_count
        entry = self.entry(
            principal,
            body,
            decision,
            digest,
            share_id=share_id,
            fields=list(released),
            row_count=count,
        )
        receipt = self.receipt(share_id, body, decision, released, 0, count)
        # Checked as a client event when its terms were first serialised, so an event the
        # shipper could never send is refused where the bug is (``share_complete_dict``).
        event = self._lineage_event(principal, receipt, decision)
        row = {
            "share_id": share_id,
            "partner": principal.partner_id,
            "dataset": body.dataset,
            "purpose": body.purpose,
            "legal_basis": body.legal_basis,
            "agreement_id": receipt.agreement_id,
            "agreement_version": receipt.agreement_version,
            "contract_version": receipt.contract_version,
            "receipt": receipt.model_dump(mode="json"),
            "request_digest": digest,
            "idempotency_key": idempotency_key,
            "created_at": receipt.created_at,
        }
        return PreparedPermit(entry, receipt, event, row)

    def record_permit(self, conn: Connection, permit: PreparedPermit) -> ShareReceipt:
        """Append the permit to the chain and record its receipt and lineage event with it."""
        record = self.append(conn, permit.entry)
        receipt = permit.receipt.model_copy(update={"audit_seq": record.seq})
        event = with_audit_position(permit.event, record.seq, record.hash)
        enqueue(conn, event, receipt.created_at, checked=True)
        row = permit.receipt_row | {"audit_seq": record.seq}
        row["receipt"] = row["receipt"] | {"audit_seq": record.seq}
        insert_row(conn, share_receipts, row)
        return receipt

    def _lineage_event(
        self, principal: Principal, receipt: ShareReceipt, decision: Decision
    ) -> dict[str, Any]:
        """The share's lineage event; its audit position is set when the permit is appended."""
        contract = self.runtime.contracts[receipt.dataset]
        released = [name for name in receipt.fields if name in contract.field_names]
        obligations = decision.obligations
        withheld = [(w.field, w.reason) for w in obligations.withheld] if obligations else []
        return share_complete_dict(
            share_id=receipt.share_id,
            contract=contract,
            partner=principal.partner_id,
            purpose=receipt.purpose,
            legal_basis=receipt.legal_basis,
            agreement_id=receipt.agreement_id,
            agreement_version=receipt.agreement_version,
            fields_released=released,
            withheld=withheld,
            transforms={name: how for name, how in receipt.transforms.items() if name in released},
            audit_seq=0,
            audit_hash=GENESIS_HASH,
            row_count=receipt.row_count,
            event_time=receipt.created_at,
        )

    def record_disclosures(
        self,
        conn: Connection,
        principal: Principal,
        receipt: ShareReceipt,
        batches: Iterable[bytes],
        hidden_days: int,
    ) -> None:
        """Record a share's subjects, packed (``pack_subject_keys``) in one or more batches."""
        now = receipt.created_at
        for packed in batches:
            record_packed(
                conn,
                packed,
                share_id=receipt.share_id,
                partner=principal.partner_id,
                dataset=receipt.dataset,
                purpose=receipt.purpose,
                legal_basis=receipt.legal_basis,
                agreement_id=receipt.agreement_id,
                disclosed_at=now,
                visible_from=now + timedelta(days=hidden_days),
            )
