"""Audit records and their hash: a canonical, versioned serialisation an auditor can recompute.

Record hash, format version 1
-----------------------------
``hash = sha256(canonical).hexdigest()`` where ``canonical`` is the UTF-8 encoding of a JSON
object holding every column of the record except ``hash`` itself, plus ``"v": 1``::

    agreement_id, agreement_version, contract_version, dataset, decision, fields_released,
    issuer, jti, legal_basis, partner, prev_hash, purpose, reasons, recorded_at,
    request_digest, row_count, seq, share_id, subject_kind, v

serialised with keys sorted, no whitespace (separators ``,`` and ``:``), non-ASCII characters
written as themselves (not ``\\u`` escapes), ``null`` for a missing value, integers as
integers, ``reasons`` and ``fields_released`` as JSON arrays in their recorded order and
``recorded_at`` as UTC with microseconds: ``2026-03-02T08:15:00.000000Z``. For these value
types this is exactly the JSON Canonicalization Scheme (RFC 8785), and in Python it is
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)``. The broker
writes the same bytes with orjson (``OPT_SORT_KEYS``), several times faster; a property test
holds the two to identical output.

``prev_hash`` is the ``hash`` of the record with ``seq - 1``; the first record (``seq`` 1)
carries the genesis value, 64 zeros. Changing, removing or reordering any record therefore
changes the hash of every record after it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final, Literal, Protocol

import orjson

FORMAT_VERSION: Final = 1
GENESIS_HASH: Final = "0" * 64
SUBJECT_KINDS: Final = ("partner", "citizen", "operator")
DECISIONS: Final = ("permit", "deny")
_SHA256_HEX = re.compile(r"[0-9a-f]{64}")

SubjectKind = Literal["partner", "citizen", "operator"]
AuditDecision = Literal["permit", "deny"]


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One broker decision as the audit log records it (the chain adds seq, time and hashes)."""

    share_id: str | None
    partner: str
    issuer: str
    jti: str
    subject_kind: SubjectKind
    dataset: str
    purpose: str
    legal_basis: str
    decision: AuditDecision
    reasons: Sequence[str]
    agreement_id: str | None
    agreement_version: str | None
    contract_version: str | None
    fields_released: Sequence[str]
    row_count: int
    request_digest: str

    def __post_init__(self) -> None:
        # Any sequence is accepted but kept as a tuple, so the entry stays immutable.
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "fields_released", tuple(self.fields_released))
        if self.subject_kind not in SUBJECT_KINDS:
            raise ValueError(f"subject_kind must be one of {SUBJECT_KINDS}: {self.subject_kind!r}")
        if self.decision not in DECISIONS:
            raise ValueError(f"decision must be one of {DECISIONS}: {self.decision!r}")
        if self.row_count < 0:
            raise ValueError(f"row_count must not be negative: {self.row_count}")
        if not _SHA256_HEX.fullmatch(self.request_digest):
            raise ValueError("request_digest must be a lower-case SHA-256 hex digest")

    def columns(self) -> dict[str, Any]:
        """The entry as audit_log column values (sequences as JSON lists)."""
        values = {name: getattr(self, name) for name in ENTRY_FIELDS}
        values["reasons"] = list(self.reasons)
        values["fields_released"] = list(self.fields_released)
        return values


ENTRY_FIELDS: Final = tuple(f.name for f in fields(AuditEntry))
_SUBJECT_KIND_OF_PARTNER: Final[Mapping[str, SubjectKind]] = {
    "agency": "partner",
    "statistics": "partner",
    "citizen_portal": "citizen",
    "operator": "operator",
}


def subject_kind_for(partner_kind: str) -> SubjectKind:
    """The audit subject kind of a configured partner kind (agency, statistics, ...)."""
    try:
        return _SUBJECT_KIND_OF_PARTNER[partner_kind]
    except KeyError:
        raise ValueError(f"no audit subject kind for partner kind {partner_kind!r}") from None


class Caller(Protocol):
    """Who made a request, as the audit log names them (a verified principal)."""

    @property
    def partner_id(self) -> str: ...
    @property
    def issuer(self) -> str: ...
    @property
    def jti(self) -> str: ...
    @property
    def kind(self) -> str: ...


def caller_fields(caller: Caller) -> dict[str, Any]:
    """The audit entry's fields naming the caller: partner, token issuer and id, subject kind."""
    return {
        "partner": caller.partner_id,
        "issuer": caller.issuer,
        "jti": caller.jti,
        "subject_kind": subject_kind_for(caller.kind),
    }


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Where an appended entry landed in the chain."""

    seq: int
    hash: str
    prev_hash: str
    recorded_at: datetime


def utc_timestamp(moment: datetime) -> str:
    """A moment as canonical UTC text with microseconds; a naive value is taken as UTC.

    Naive values occur because SQLite keeps the stored UTC wall time without its zone.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds") + "Z"


# What json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False) builds
# on every call, built once. Request digests and checkpoints use it: a request body may hold
# values (floats, integers beyond 64 bits) whose text orjson writes differently.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(document: Mapping[str, Any]) -> bytes:
    """RFC 8785 form of a document of strings, integers, nulls and arrays (see module doc)."""
    return _CANONICAL.encode(document).encode("utf-8")


def record_document(
    prev_hash: str, seq: int, recorded_at: datetime, values: Mapping[str, Any]
) -> dict[str, Any]:
    """The document whose canonical JSON is hashed, from a record's entry column values."""
    document = {name: values[name] for name in ENTRY_FIELDS}
    document["v"] = FORMAT_VERSION
    document["seq"] = seq
    document["prev_hash"] = prev_hash
    document["recorded_at"] = utc_timestamp(recorded_at)
    return document


def record_hash(prev_hash: str, seq: int, recorded_at: datetime, entry: AuditEntry) -> str:
    """SHA-256 hex of the record's canonical serialisation (format version 1)."""
    return values_hash(prev_hash, seq, recorded_at, entry.columns())


def record_bytes(document: Mapping[str, Any]) -> bytes:
    """The canonical bytes of a record document (see the module doc): what ``canonical_json``
    gives for its strings, integers, nulls and lists of strings, written by orjson.

    A value that has no canonical form (a string that is not Unicode text, such as a lone
    surrogate, or an integer beyond 64 bits) raises ValueError, as ``canonical_json`` does.
    """
    try:
        return orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError as error:
        raise ValueError(f"the record has no canonical JSON form: {error}") from None


def values_hash(prev_hash: str, seq: int, recorded_at: datetime, values: Mapping[str, Any]) -> str:
    """``record_hash`` from an entry's column values (``AuditEntry.columns()``)."""
    document = record_document(prev_hash, seq, recorded_at, values)
    return hashlib.sha256(record_bytes(document)).hexdigest()


def request_digest(request: Mapping[str, Any]) -> str:
    """SHA-256 hex of a request body in canonical JSON (sorted keys, no whitespace)."""
    return hashlib.sha256(canonical_json(request)).hexdigest()
