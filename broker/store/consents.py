"""Citizens' consents (GDPR Art. 6(1)(a)): a typed table keeping every grant and revocation."""

from __future__ import annotations

import base64
from datetime import UTC, date, datetime

import sqlalchemy as sa
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from contracts.store import metadata


class ConsentBase(DeclarativeBase):
    """Typed tables of the broker, registered on the sharing store's one MetaData."""

    metadata = metadata


class SubjectConsent(ConsentBase):
    """One consent: a person (by subject key) lets one partner use some fields for one purpose.

    Rows are never deleted: a revocation sets `revoked_at` and names its audit record, so the
    history of grants and revocations stays readable next to the audit log.
    """

    __tablename__ = "subject_consents"
    __table_args__ = (
        sa.Index("ix_subject_consents_subject", "subject_key", "granted_at"),
        sa.Index("ix_subject_consents_scope", "partner", "dataset", "purpose"),
        {"comment": "Citizens' consents, keyed by an HMAC of the identity code; never deleted."},
    )

    consent_id: Mapped[str] = mapped_column(sa.Text, primary_key=True)
    subject_key: Mapped[str] = mapped_column(sa.Text)
    # The identity code sealed (Fernet), so a share reads only consenting people's rows.
    subject_sealed: Mapped[str] = mapped_column(sa.Text)
    partner: Mapped[str] = mapped_column(sa.Text)
    dataset: Mapped[str] = mapped_column(sa.Text)
    purpose: Mapped[str] = mapped_column(sa.Text)
    agreement_id: Mapped[str] = mapped_column(sa.Text)
    agreement_version: Mapped[str] = mapped_column(sa.Text)
    fields: Mapped[list[str]] = mapped_column(sa.JSON)
    valid_until: Mapped[date] = mapped_column(sa.Date)
    granted_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True))
    grant_audit_seq: Mapped[int] = mapped_column(sa.BigInteger)
    revoked_at: Mapped[datetime | None] = mapped_column(sa.DateTime(timezone=True))
    revoke_audit_seq: Mapped[int | None] = mapped_column(sa.BigInteger)


subject_consents: sa.Table = SubjectConsent.__table__  # type: ignore[assignment]


def as_utc(moment: datetime) -> datetime:
    """A stored moment as aware UTC (SQLite gives back the UTC wall time without its zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def subject_sealer(master_key: bytes) -> Fernet:
    """Seals consenting people's identity codes with a key of its own."""
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"tillit/consent-subject/v1")
    return Fernet(base64.urlsafe_b64encode(key.derive(master_key)))
