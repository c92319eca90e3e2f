"""Consent as an input of the pure engine: whose consent is valid for a request, right now."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from broker.policy.model import CONSENT_EXPIRED, CONSENT_MISSING, CONSENT_REVOKED, Reason

ConsentState = Literal["valid", "revoked", "expired"]


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One person's consent (by subject key) to one partner, dataset and purpose."""

    subject_key: str
    partner: str
    dataset: str
    purpose: str
    fields: frozenset[str]
    granted_at: datetime
    valid_until: date
    revoked_at: datetime | None = None

    def state(self, now: datetime) -> ConsentState:
        """`valid`, `revoked` or `expired` at `now` (valid_until is inclusive, local day)."""
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        if now.date() > self.valid_until:
            return "expired"
        return "valid"


@dataclass(frozen=True, slots=True)
class ConsentVerdict:
    """Who may be released under a consent agreement; if nobody, the reason."""

    subjects: frozenset[str]
    denial: Reason | None


def consent_verdict(
    records: Iterable[ConsentRecord],
    *,
    partner: str,
    dataset: str,
    purpose: str,
    fields: Iterable[str],
    now: datetime,
) -> ConsentVerdict:
    """Subjects whose consent covers the partner, dataset, purpose and every released field.

    A consent covering fewer fields does not count (the person did not agree to the rest).
    When nobody is covered, the reason comes from the most recently granted matching consent:
    revoked, expired, or missing when there is none.
    """
    wanted = frozenset(fields)
    valid: set[str] = set()
    latest: ConsentRecord | None = None
    for record in records:
        if (record.partner, record.dataset, record.purpose) != (partner, dataset, purpose):
            continue
        if not wanted <= record.fields:
            continue
        if record.state(now) == "valid":
            valid.add(record.subject_key)
        elif latest is None or record.granted_at > latest.granted_at:
            latest = record
    if valid:
        return ConsentVerdict(frozenset(valid), None)
    if latest is None:
        return ConsentVerdict(
            frozenset(), Reason(CONSENT_MISSING, f"nobody has consented to {purpose} by {partner}")
        )
    if latest.state(now) == "revoked":
        return ConsentVerdict(
            frozenset(), Reason(CONSENT_REVOKED, f"the consent to {purpose} was revoked")
        )
    return ConsentVerdict(
        frozenset(),
        Reason(CONSENT_EXPIRED, f"the consent to {purpose} expired on {latest.valid_until}"),
    )
