"""A person's download of their own data: decided by the policy engine, audited before release."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from broker.audit import AuditEntry, AuditRecord, caller_fields, request_digest
from broker.auth.principal import Principal
from broker.config.models import SubjectAccess
from broker.errors import InvalidRequest, PolicyDenied
from broker.policy.model import Decision
from broker.policy.subject_access import evaluate_subject_access
from broker.runtime import BrokerRuntime
from broker.sharing.recording import ShareRecorder
from broker.store import rows as store_rows
from broker.store.disclosures import record_batch
from broker.store.subjects import SubjectKeys, subject_index_key
from contracts.base import Contract
from contracts.store import store_table
from lineage.events import share_complete_dict
from lineage.outbox import enqueue


@dataclass(frozen=True)
class FieldDescription:
    """A released field as its contract describes it."""

    name: str
    description: str
    classification: str
    source_system: str
    source_field: str


@dataclass(frozen=True)
class WithheldDescription:
    """A field the law withholds from the person, with the law and the explanation."""

    field: str
    reason: str
    legal_basis: str
    legal_basis_title: str
    legal_basis_reference: str
    explanation: str


@dataclass
class DatasetExport:
    """The rows of one dataset about the person, with the contract's field descriptions."""

    dataset: str
    description: str
    contract_version: str
    source_system: str
    fields: list[FieldDescription]
    withheld: list[WithheldDescription]
    rows: list[dict[str, Any]]
    export_id: str = ""
    audit_seq: int = 0


@dataclass
class SubjectExport:
    """Everything one download gives a person, and when it was recorded."""

    subject_access_id: str
    subject_access_version: str
    exported_at: datetime
    datasets: list[DatasetExport] = field(default_factory=list)


class SubjectExporter:
    """Serves people their own data under the subject access rules (`subject_access.yaml`)."""

    def __init__(self, runtime: BrokerRuntime, recorder: ShareRecorder) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self._subjects = SubjectKeys(subject_index_key(runtime.secrets.pseudonym_key))

    @property
    def access(self) -> SubjectAccess | None:
        """The configured subject access rules (None: nothing can be downloaded)."""
        return self.runtime.config.subject_access

    def datasets(self) -> list[str]:
        """Datasets a person may download, in the configured order."""
        access = self.access
        return (
            [name for name in access.datasets if name in self.runtime.contracts] if access else []
        )

    def export(self, principal: Principal, dataset: str | None = None) -> SubjectExport:
        """Read the person's rows, record the download, and only then return it."""
        names = self._requested(principal, dataset)
        access = self.access
        assert access is not None  # noqa: S101  (_requested denies when there are no rules)
        decisions = {
            name: evaluate_subject_access(name, self.runtime.datasets, access) for name in names
        }
        denied = [(name, d) for name, d in decisions.items() if not d.allowed]
        if denied:
            name, decision = denied[0]
            raise self._deny(principal, name, decision)
        exports = [self._read(principal, name, decisions[name]) for name in names]
        now = self.runtime.now()
        result = SubjectExport(access.id, access.version, now, exports)
        with self.recorder.audited() as conn:
            for item in exports:
                self._record(conn, principal, item, decisions[item.dataset], now)
        return result

    def _requested(self, principal: Principal, dataset: str | None) -> list[str]:
        if dataset is None:
            available = self.datasets()
            if not available:
                raise self._deny(principal, "*", evaluate_subject_access("*", {}, None))
            return available
        if dataset not in self.runtime.contracts:
            raise InvalidRequest(f"no dataset {dataset}", code="unknown_dataset")
        return [dataset]

    def _deny(self, principal: Principal, dataset: str, decision: Decision) -> PolicyDenied:
        access = self.access
        entry = AuditEntry(
            share_id=None,
            **caller_fields(principal),
            dataset=dataset,
            purpose=access.purpose if access else "data_subject_access",
            legal_basis=access.legal_basis if access else "gdpr_access_and_portability",
            decision="deny",
            reasons=[reason.code for reason in decision.reasons],
            agreement_id=None,
            agreement_version=None,
            contract_version=None,
            fields_released=[],
            row_count=0,
            request_digest=request_digest({"action": "export", "dataset": dataset}),
        )
        with self.recorder.audited() as conn:
            self.recorder.append(conn, entry)
        reason = decision.reasons[0]
        return PolicyDenied(reason.code, reason.detail)

    def _describe(self, contract: Contract, decision: Decision) -> DatasetExport:
        obligations = decision.obligations
        assert obligations is not None  # noqa: S101
        access = self.access
        rules = {(rule.dataset, rule.field): rule for rule in (access.withheld if access else ())}
        legal_bases = self.runtime.config.legal_bases
        withheld = []
        for item in obligations.withheld:
            rule = rules[(contract.name, item.field)]
            law = legal_bases[rule.legal_basis]
            withheld.append(
                WithheldDescription(
                    field=item.field,
                    reason=item.reason,
                    legal_basis=law.id,
                    legal_basis_title=law.title,
                    legal_basis_reference=str(law.reference),
                    explanation=rule.explanation,
                )
            )
        fields = [
            FieldDescription(
                name=spec.name,
                description=spec.description,
                classification=str(spec.classification),
                source_system=contract.source_system,
                source_field=spec.source,
            )
            for spec in contract.fields
            if spec.name in obligations.fields_released
        ]
        return DatasetExport(
            dataset=contract.name,
            description=contract.description,
            contract_version=contract.version,
            source_system=contract.source_system,
            fields=fields,
            withheld=withheld,
            rows=[],
        )

    def _read(self, principal: Principal, dataset: str, decision: Decision) -> DatasetExport:
        contract = self.runtime.contracts[dataset]
        item = self._describe(contract, decision)
        subject_field = store_rows.subject_field(contract)
        if subject_field is None:
            return item
        table = store_table(contract)
        columns = [spec.name for spec in item.fields]
        query = (
            sa.select(*(table.c[name] for name in columns))
            .where(table.c[subject_field] == principal.subject.strip().upper())
            .order_by(*(table.c[name] for name in contract.primary_key))
        )
        with self.runtime.engine.connect() as conn:
            result = conn.execute(query)
            rows = store_rows.columns_from(result, result.fetchall())
        item.rows = store_rows.json_rows(rows)
        return item

    def _record(
        self,
        conn: Connection,
        principal: Principal,
        item: DatasetExport,
        decision: Decision,
        now: datetime,
    ) -> None:
        """Audit record, lineage event and the person's disclosure index, in one transaction."""
        access = self.access
        assert access is not None and decision.obligations is not None  # noqa: S101
        export_id = str(uuid.uuid4())
        released = [spec.name for spec in item.fields]
        entry = AuditEntry(
            share_id=export_id,
            **caller_fields(principal),
            dataset=item.dataset,
            purpose=access.purpose,
            legal_basis=access.legal_basis,
            decision="permit",
            reasons=[reason.code for reason in decision.reasons],
            agreement_id=access.id,
            agreement_version=access.version,
            contract_version=item.contract_version,
            fields_released=released,
            row_count=len(item.rows),
            request_digest=request_digest({"action": "export", "dataset": item.dataset}),
        )
        record = self.recorder.append(conn, entry)
        self._lineage(conn, principal, item, export_id, record, now)
        record_batch(
            conn,
            [self._subjects.key(principal.subject)],
            share_id=export_id,
            partner=principal.partner_id,
            dataset=item.dataset,
            purpose=access.purpose,
            legal_basis=access.legal_basis,
            agreement_id=access.id,
            disclosed_at=now,
            visible_from=now,
        )
        item.export_id, item.audit_seq = export_id, record.seq

    def _lineage(
        self,
        conn: Connection,
        principal: Principal,
        item: DatasetExport,
        export_id: str,
        record: AuditRecord,
        now: datetime,
    ) -> None:
        access = self.access
        assert access is not None  # noqa: S101
        released = [spec.name for spec in item.fields]
        event = share_complete_dict(
            share_id=export_id,
            contract=self.runtime.contracts[item.dataset],
            partner=principal.partner_id,
            purpose=access.purpose,
            legal_basis=access.legal_basis,
            agreement_id=access.id,
            agreement_version=access.version,
            fields_released=released,
            withheld=[(w.field, w.reason) for w in item.withheld],
            transforms=dict.fromkeys(released, "keep"),
            audit_seq=record.seq,
            audit_hash=record.hash,
            row_count=len(item.rows),
            event_time=now,
        )
        enqueue(conn, event, now)
