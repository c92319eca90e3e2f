"""Strict pydantic models of the broker's configuration files (unknown keys are rejected)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from broker.config.datasets import DatasetInfo

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,79}$")]
NonEmptyText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
PartnerKind = Literal["agency", "statistics", "citizen_portal", "operator"]
# Only asymmetric algorithms: a shared secret would let anyone holding it mint tokens.
AsymmetricAlgorithm = Literal[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"
]
GeneraliseRule = Literal["year", "district", "age_band", "month"]
Transform = Literal[
    "drop",
    "keep",
    "pseudonymise",
    "generalise:year",
    "generalise:district",
    "generalise:age_band",
    "generalise:month",
]
# A statutory agreement rests on a law; a consent agreement on each person's own consent
# (GDPR Art. 6(1)(a)) and releases a person's rows only while their consent is valid.
LegalBasisType = Literal["statutory", "consent"]
_SEMVER = r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$"
_GDPR_ARTICLE = re.compile(r"^\d{1,2}\(\d\)\([a-j]\)(?:(?: \+ |/)(?:\d{1,2}\(\d\))?\([a-j]\))*$")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _https_url(value: str) -> str:
    parts = urlsplit(value)
    if not parts.hostname:
        raise ValueError("must be an absolute URL")
    if parts.scheme != "https" and not (parts.scheme == "http" and _is_loopback(parts.hostname)):
        raise ValueError("must use https (http only on loopback for development)")
    return value


def _legal_reference(value: str) -> str:
    parts = urlsplit(value)
    host = parts.hostname or ""
    is_finlex = parts.scheme == "https" and (host == "finlex.fi" or host.endswith(".finlex.fi"))
    is_eli = parts.scheme in {"http", "https"} and "/eli/" in parts.path
    if not (is_finlex or is_eli):
        raise ValueError("must be an https URL on finlex.fi or an ELI URI")
    return value


def _gdpr_article(value: str) -> str:
    if not _GDPR_ARTICLE.match(value):
        raise ValueError("must look like 6(1)(e), 6(1)(e) + 9(2)(h) or 9(2)(h)/(j)")
    return value


HttpsUrl = Annotated[str, AfterValidator(_https_url)]


class _StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Partner(_StrictModel):
    """An organisation that may call the broker, identified by the issuer of its tokens."""

    id: Identifier
    name: NonEmptyText
    kind: PartnerKind
    # Kept as the exact configured string: `iss` is compared byte for byte, never normalised.
    issuer: HttpsUrl
    jwks_file: Path | None = None
    jwks_uri: HttpsUrl | None = None
    algorithms: tuple[AsymmetricAlgorithm, ...] = Field(min_length=1)
    roles: tuple[Identifier, ...] = ()

    @model_validator(mode="after")
    def _one_key_source(self) -> Partner:
        if (self.jwks_file is None) == (self.jwks_uri is None):
            raise ValueError("exactly one of jwks_file and jwks_uri must be given")
        return self


class LegalBasis(_StrictModel):
    """A law (act and section) on which processing rests, and the GDPR article it relies on."""

    id: Identifier
    title: NonEmptyText
    reference: Annotated[str, AfterValidator(_legal_reference)]
    gdpr_article: Annotated[str, AfterValidator(_gdpr_article)]


class Purpose(_StrictModel):
    """A purpose of processing, the legal bases it allows and the purposes it is compatible with."""

    id: Identifier
    description: NonEmptyText
    legal_bases: tuple[Identifier, ...] = Field(min_length=1)
    compatible_with: tuple[Identifier, ...] = ()
    # A mandatory purpose (a legal obligation) is not excluded by a citizen's objection.
    mandatory: bool = False


class Agreement(_StrictModel):
    """A data-sharing agreement: which partner may receive which fields, for what, until when."""

    id: Identifier
    version: Annotated[str, StringConstraints(pattern=_SEMVER)]
    partner: Identifier
    dataset: Identifier
    purposes: tuple[Identifier, ...] = Field(min_length=1)
    legal_basis: Identifier
    fields: tuple[Annotated[str, StringConstraints(min_length=1)], ...] = Field(min_length=1)
    transforms: Mapping[str, Transform] = Field(default_factory=dict)
    # Values are strings on purpose: YAML would read an unquoted code such as 016 as a number.
    row_scope: Mapping[str, str] | None = None
    aggregate_only: bool = False
    min_cell_size: int = Field(default=5, ge=3)
    valid_from: date
    valid_until: date | None = None
    max_rows: int | None = Field(default=None, ge=1)
    hidden_until_days: int = Field(default=0, ge=0, le=3650)
    keep_direct_identifiers: bool = False
    legal_basis_type: LegalBasisType = "statutory"

    @property
    def requires_consent(self) -> bool:
        """Whether rows are released only for people whose consent is valid."""
        return self.legal_basis_type == "consent"

    @model_validator(mode="after")
    def _coherent(self) -> Agreement:
        if self.requires_consent and self.aggregate_only:
            raise ValueError("a consent agreement releases consenting people's rows, not counts")
        if len(set(self.fields)) != len(self.fields):
            raise ValueError("fields lists a field twice")
        if len(set(self.purposes)) != len(self.purposes):
            raise ValueError("purposes lists a purpose twice")
        if self.valid_until is not None and self.valid_until < self.valid_from:
            raise ValueError(
                f"valid_until {self.valid_until} is before valid_from {self.valid_from}"
            )
        return self

    def in_force(self, day: date) -> bool:
        """Whether the agreement is valid on the given day (both ends inclusive)."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


class WithheldFromSubject(_StrictModel):
    """A field the law withholds even from the person it is about, and the law that does."""

    dataset: Identifier
    field: Identifier
    legal_basis: Identifier
    explanation: NonEmptyText


class SubjectAccess(_StrictModel):
    """What people may download about themselves (GDPR Art. 15 and 20), and what is withheld."""

    id: Identifier
    version: Annotated[str, StringConstraints(pattern=_SEMVER)]
    purpose: Identifier
    legal_basis: Identifier
    datasets: tuple[Identifier, ...] = Field(min_length=1)
    withheld: tuple[WithheldFromSubject, ...] = ()


class BrokerConfig(BaseModel):
    """The whole validated configuration; only ever built complete by `load_config`."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    config_dir: Path
    partners: Mapping[str, Partner]
    legal_bases: Mapping[str, LegalBasis]
    purposes: Mapping[str, Purpose]
    agreements: tuple[Agreement, ...]
    agreement_files: Mapping[str, Path]
    datasets: Mapping[str, DatasetInfo]
    # Without a subject access file nobody can download anything (fail closed).
    subject_access: SubjectAccess | None = None
    _by_issuer: dict[str, Partner] = PrivateAttr(default_factory=dict)

    def model_post_init(self, context: Any, /) -> None:
        """Index partners by issuer once, since every token verification looks one up."""
        self._by_issuer = {p.issuer: p for p in self.partners.values()}

    def partner_by_issuer(self, issuer: str) -> Partner | None:
        """The partner whose configured issuer equals `issuer` exactly, if any."""
        return self._by_issuer.get(issuer)
