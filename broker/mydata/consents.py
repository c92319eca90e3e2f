"""Granting, revoking and listing consents, each recorded in the audit log as it happens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from broker.audit import AuditEntry, caller_fields, request_digest
from broker.auth.principal import Principal
from broker.config.models import Agreement
from broker.errors import Conflict, InvalidRequest, NotFound
from broker.policy.consent import ConsentRecord, ConsentState
from broker.policy.model import ShareRequest
from broker.runtime import BrokerRuntime
from broker.sharing.recording import ShareRecorder
from broker.store import rows as store_rows
from broker.store.consents import as_utc, subject_consents, subject_sealer
from broker.store.subjects import SubjectKeys, subject_index_key
from contracts.base import Contract
from contracts.store import store_table

CONSENT_GRANTED = "consent_granted"
CONSENT_REVOKED = "consent_revoked"
CONSENT_LEGAL_BASIS = "consent"


class AlreadyRevoked(Conflict):
    """The consent was revoked earlier; a revocation is recorded once (409)."""

    code = "consent_already_revoked"


@dataclass(frozen=True)
class ConsentGrant:
    """What a person agrees to: one partner, dataset and purpose, some fields, until a day."""

    partner: str
    dataset: str
    purpose: str
    fields: tuple[str, ...]
    valid_until: date


@dataclass(frozen=True)
class StoredConsent:
    """A consent as the person reviews it, with its state at the time of asking."""

    consent_id: str
    partner: str
    dataset: str
    purpose: str
    agreement_id: str
    fields: list[str]
    valid_until: date
    granted_at: datetime
    revoked_at: datetime | None
    status: ConsentState


def _record(row: sa.Row[tuple[object, ...]]) -> ConsentRecord:
    revoked = row.revoked_at
    return ConsentRecord(
        subject_key=str(row.subject_key),
        partner=str(row.partner),
        dataset=str(row.dataset),
        purpose=str(row.purpose),
        fields=frozenset(row.fields),
        granted_at=as_utc(row.granted_at),
        valid_until=row.valid_until,
        revoked_at=as_utc(revoked) if revoked is not None else None,
    )


class ConsentService:
    """Consents of the signed-in person, and the consent input of the policy engine."""

    def __init__(self, runtime: BrokerRuntime, recorder: ShareRecorder) -> None:
        self.runtime = runtime
        self.recorder = recorder
        self._subjects = SubjectKeys(subject_index_key(runtime.secrets.pseudonym_key))
        self._sealer = subject_sealer(runtime.secrets.pseudonym_key)

    def subject_key(self, identity_code: str) -> str:
        """The HMAC under which a person's consents (and disclosures) are kept."""
        return self._subjects.key(identity_code)

    # -- the policy engine's input -------------------------------------------------------

    def needed_for(self, request: ShareRequest) -> bool:
        """Whether some agreement that could permit this request rests on consent."""
        windows = self.runtime.index.windows(
            request.partner, request.dataset, request.purpose, request.legal_basis
        )
        return windows is not None and any(e.agreement.requires_consent for e in windows.entries)

    def records_for(self, request: ShareRequest) -> tuple[ConsentRecord, ...]:
        """Consents bearing on a request; only the filtered person's when it names one."""
        if not self.needed_for(request):
            return ()
        query = sa.select(subject_consents).where(
            subject_consents.c.partner == request.partner,
            subject_consents.c.dataset == request.dataset,
            subject_consents.c.purpose == request.purpose,
        )
        contract = self.runtime.contracts.get(request.dataset)
        field = store_rows.subject_field(contract) if contract is not None else None
        named = request.filters.get(field) if field is not None else None
        if isinstance(named, str):
            query = query.where(subject_consents.c.subject_key == self.subject_key(named))
        with self.runtime.engine.connect() as conn:
            return tuple(_record(row) for row in conn.execute(query))

    def rows_of(self, contract: Contract, subjects: frozenset[str]) -> Any:
        """SQL condition selecting the rows about these subjects (by their consents)."""
        field = store_rows.subject_field(contract)
        if field is None or not subjects:
            return sa.false()
        query = sa.select(subject_consents.c.subject_sealed).where(
            subject_consents.c.subject_key.in_(sorted(subjects))
        )
        with self.runtime.engine.connect() as conn:
            sealed = set(conn.execute(query).scalars())
        codes = sorted({self._sealer.decrypt(value.encode()).decode() for value in sealed})
        return store_table(contract).c[field].in_(codes)

    # -- the person's own actions --------------------------------------------------------

    def agreement_for(self, grant: ConsentGrant) -> Agreement:
        """The consent agreement a grant falls under; a 422 problem with a code if none."""
        config, today = self.runtime.config, self.runtime.now().date()
        if grant.partner not in config.partners:
            raise InvalidRequest(f"no partner {grant.partner}", code="unknown_partner")
        if grant.dataset not in self.runtime.datasets:
            raise InvalidRequest(f"no dataset {grant.dataset}", code="unknown_dataset")
        if grant.purpose not in config.purposes:
            raise InvalidRequest(f"no purpose {grant.purpose}", code="unknown_purpose")
        candidates = [
            entry.agreement
            for entry in self.runtime.index.candidates(grant.partner, grant.dataset)
            if entry.agreement.requires_consent
            and grant.purpose in entry.agreement.purposes
            and (entry.agreement.valid_until is None or entry.agreement.valid_until >= today)
        ]
        if not candidates:
            raise InvalidRequest(
                f"{grant.partner} has no consent agreement on {grant.dataset} for {grant.purpose}",
                code="no_consent_agreement",
            )
        agreement = candidates[0]
        outside = [name for name in grant.fields if name not in agreement.fields]
        if outside:
            raise InvalidRequest(
                f"agreement {agreement.id} does not cover: {', '.join(outside)}",
                code="fields_not_in_agreement",
            )
        if grant.valid_until < today:
            raise InvalidRequest("valid_until is in the past", code="invalid_valid_until")
        return agreement

    def _entry(
        self,
        principal: Principal,
        scope: tuple[str, str, str, str],
        reason: str,
        document: dict[str, object],
    ) -> AuditEntry:
        """The audit entry of a grant or revocation for (dataset, purpose, agreement, version)."""
        dataset, purpose, agreement_id, version = scope
        info = self.runtime.datasets.get(dataset)
        configured = self._agreement(agreement_id)
        return AuditEntry(
            share_id=None,
            **caller_fields(principal),
            dataset=dataset,
            purpose=purpose,
            # A withdrawn agreement can still have its consents revoked, and recorded.
            legal_basis=configured.legal_basis if configured else CONSENT_LEGAL_BASIS,
            decision="permit",
            reasons=[reason],
            agreement_id=agreement_id,
            agreement_version=version,
            contract_version=info.version if info else None,
            fields_released=[],
            row_count=0,
            request_digest=request_digest(document),
        )

    def grant(self, principal: Principal, grant: ConsentGrant) -> StoredConsent:
        """Record a consent and its audit record in one transaction."""
        agreement = self.agreement_for(grant)
        consent_id = str(uuid.uuid4())
        fields = list(dict.fromkeys(grant.fields))
        document: dict[str, object] = {
            "action": "grant",
            "consent_id": consent_id,
            "partner": grant.partner,
            "dataset": grant.dataset,
            "purpose": grant.purpose,
            "fields": fields,
            "valid_until": grant.valid_until.isoformat(),
        }
        now = self.runtime.now()
        with self.recorder.audited() as conn:
            scope = (grant.dataset, grant.purpose, agreement.id, agreement.version)
            entry = self._entry(principal, scope, CONSENT_GRANTED, document)
            record = self.recorder.append(conn, entry)
            conn.execute(
                subject_consents.insert(),
                {
                    "consent_id": consent_id,
                    "subject_key": self.subject_key(principal.subject),
                    "subject_sealed": self._sealer.encrypt(
                        principal.subject.strip().upper().encode()
                    ).decode(),
                    "partner": grant.partner,
                    "dataset": grant.dataset,
                    "purpose": grant.purpose,
                    "agreement_id": agreement.id,
                    "agreement_version": agreement.version,
                    "fields": fields,
                    "valid_until": grant.valid_until,
                    "granted_at": as_utc(now),
                    "grant_audit_seq": record.seq,
                    "revoked_at": None,
                    "revoke_audit_seq": None,
                },
            )
        return self.get(principal, consent_id)

    def _own_row(
        self, conn: Connection, principal: Principal, consent_id: str
    ) -> sa.Row[tuple[object, ...]]:
        row = conn.execute(
            sa.select(subject_consents).where(
                subject_consents.c.consent_id == consent_id,
                subject_consents.c.subject_key == self.subject_key(principal.subject),
            )
        ).first()
        if row is None:
            # Someone else's consent is indistinguishable from one that does not exist.
            raise NotFound("no such consent")
        return row

    def revoke(self, principal: Principal, consent_id: str) -> StoredConsent:
        """Revoke one's own consent: it stops releases from the next request on."""
        with self.recorder.audited() as conn:
            row = self._own_row(conn, principal, consent_id)
            if row.revoked_at is not None:
                raise AlreadyRevoked("this consent was already revoked")
            document: dict[str, object] = {"action": "revoke", "consent_id": consent_id}
            scope = (row.dataset, row.purpose, row.agreement_id, row.agreement_version)
            entry = self._entry(principal, scope, CONSENT_REVOKED, document)
            record = self.recorder.append(conn, entry)
            conn.execute(
                subject_consents.update()
                .where(subject_consents.c.consent_id == consent_id)
                .values(revoked_at=as_utc(self.runtime.now()), revoke_audit_seq=record.seq)
            )
        return self.get(principal, consent_id)

    def _agreement(self, agreement_id: str) -> Agreement | None:
        return next((a for a in self.runtime.config.agreements if a.id == agreement_id), None)

    def get(self, principal: Principal, consent_id: str) -> StoredConsent:
        """One of the person's own consents; 404 for anyone else's."""
        with self.runtime.engine.connect() as conn:
            return self._stored(self._own_row(conn, principal, consent_id))

    def list(self, principal: Principal) -> list[StoredConsent]:
        """The person's consents, newest first, revoked and expired ones included."""
        with self.runtime.engine.connect() as conn:
            rows = conn.execute(
                sa.select(subject_consents)
                .where(subject_consents.c.subject_key == self.subject_key(principal.subject))
                .order_by(subject_consents.c.granted_at.desc(), subject_consents.c.consent_id)
            ).all()
        return [self._stored(row) for row in rows]

    def _stored(self, row: sa.Row[tuple[object, ...]]) -> StoredConsent:
        record = _record(row)
        return StoredConsent(
            consent_id=str(row.consent_id),
            partner=record.partner,
            dataset=record.dataset,
            purpose=record.purpose,
            agreement_id=str(row.agreement_id),
            fields=list(row.fields),
            valid_until=record.valid_until,
            granted_at=record.granted_at,
            revoked_at=record.revoked_at,
            status=record.state(self.runtime.now()),
        )
