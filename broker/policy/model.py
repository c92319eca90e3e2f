"""Inputs and outputs of the policy engine: share requests, decisions, reasons and obligations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, NamedTuple

# The reason code of every permit.
PERMITTED: Final = "permitted"

# Denial reason codes (also the `code` of the 403 problem document).
NO_AGREEMENT: Final = "no_agreement"
PURPOSE_NOT_PERMITTED: Final = "purpose_not_permitted"
LEGAL_BASIS_MISMATCH: Final = "legal_basis_mismatch"
AGREEMENT_NOT_IN_FORCE: Final = "agreement_not_in_force"
PURPOSE_INCOMPATIBLE: Final = "purpose_incompatible"
FIELDS_NOT_PERMITTED: Final = "fields_not_permitted"
FILTER_NOT_PERMITTED: Final = "filter_not_permitted"
UNKNOWN_DATASET: Final = "unknown_dataset"
UNKNOWN_PURPOSE: Final = "unknown_purpose"
# Consent agreements (GDPR Art. 6(1)(a)): nobody in scope has a valid consent, and why.
CONSENT_MISSING: Final = "consent_missing"
CONSENT_REVOKED: Final = "consent_revoked"
CONSENT_EXPIRED: Final = "consent_expired"

# Reasons a field is withheld from an otherwise permitted share.
FIELD_NOT_IN_AGREEMENT: Final = "field_not_in_agreement"
DIRECT_IDENTIFIER: Final = "direct_identifier"
DROPPED_BY_AGREEMENT: Final = "dropped_by_agreement"
WITHHELD_BY_LAW: Final = "withheld_by_law"

FilterValue = str | int | float | bool | None


def _empty() -> Mapping[str, str]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class ShareRequest:
    """What an authenticated partner asks for: a dataset, for a purpose, on a legal basis."""

    partner: str
    dataset: str
    purpose: str
    legal_basis: str
    fields: tuple[str, ...] | None = None
    filters: Mapping[str, FilterValue] = field(default_factory=_empty)


class Reason(NamedTuple):
    """A machine code and a human explanation of why a decision came out as it did."""

    code: str
    detail: str


class AgreementRef(NamedTuple):
    """The id and version of an agreement, as recorded in decisions and the audit log."""

    id: str
    version: str


class Withheld(NamedTuple):
    """A requested field that is not released, and the code saying why."""

    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class Obligations:
    """What the broker must do when releasing data under a permit."""

    fields_released: tuple[str, ...] = ()
    withheld: tuple[Withheld, ...] = ()
    transforms: Mapping[str, str] = field(default_factory=_empty)
    row_scope: Mapping[str, str] = field(default_factory=_empty)
    aggregate_only: bool = False
    min_cell_size: int = 5
    max_rows: int | None = None
    hidden_until_days: int = 0
    # Objections (GDPR Art. 21) exclude a subject's rows unless the purpose is mandatory.
    exclude_objecting_subjects: bool = False
    excluded_subjects: frozenset[str] = frozenset()
    # Under a consent agreement only these subjects' rows may leave; None: no such limit.
    consenting_subjects: frozenset[str] | None = None

    @property
    def limits_subjects(self) -> bool:
        """Whether some rows must be dropped by whom they are about (objection or consent)."""
        objecting = self.exclude_objecting_subjects and bool(self.excluded_subjects)
        return objecting or self.consenting_subjects is not None

    def admits(self, subject_key: str | None) -> bool:
        """Whether a row about this subject (None: about nobody known) may be released."""
        if self.consenting_subjects is not None and subject_key not in self.consenting_subjects:
            return False
        return not (self.exclude_objecting_subjects and subject_key in self.excluded_subjects)


@dataclass(frozen=True, slots=True)
class Decision:
    """The engine's answer: allowed or not, why, under which agreement, with what obligations."""

    allowed: bool
    reasons: tuple[Reason, ...]
    matched_agreements: tuple[AgreementRef, ...] = ()
    obligations: Obligations | None = None

    @property
    def reason_code(self) -> str | None:
        """The code of the first (deciding) reason of a denial; None for a permit."""
        return None if self.allowed or not self.reasons else self.reasons[0].code

    @property
    def agreement(self) -> AgreementRef | None:
        """The agreement the share is released under (the first matched one), if permitted."""
        return self.matched_agreements[0] if self.allowed and self.matched_agreements else None


def deny(*reasons: Reason) -> Decision:
    """A denial carrying its reasons, deciding reason first."""
    return Decision(allowed=False, reasons=reasons)
