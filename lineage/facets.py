"""Tillit's own OpenLineage facets: governance of a dataset and the terms of a share.

Each facet names a versioned JSON schema shipped as ``lineage/schemas/<Facet>-<version>.json``,
whose ``$id`` is the ``_schemaURL`` without its fragment. A change to a facet's fields is a new
schema version and a new file, never an edit of a published one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import attr
from openlineage.client.facet_v2 import DatasetFacet, RunFacet

from contracts.base import Contract
from lineage.namespaces import PRODUCER

SCHEMA_BASE: Final = "https://tillit.fi/spec/facets"
GOVERNANCE_FACET: Final = "tillit_governance"
SHARE_FACET: Final = "tillit_share"
GOVERNANCE_SCHEMA_URL: Final = (
    f"{SCHEMA_BASE}/1-0-0/TillitGovernanceDatasetFacet.json#/$defs/TillitGovernanceDatasetFacet"
)
SHARE_SCHEMA_URL: Final = f"{SCHEMA_BASE}/1-0-0/TillitShareRunFacet.json#/$defs/TillitShareRunFacet"


@attr.define
class GovernedField:
    """How much harm disclosing one field could do, and whether it identifies a person."""

    name: str
    classification: str
    identifier: str


@attr.define
class TillitGovernanceDatasetFacet(DatasetFacet):
    """The contract a dataset is held to: version, classification, purposes, legal basis."""

    contractName: str
    contractVersion: str
    sourceSystem: str
    classification: str
    purposes: list[str]
    legalBasis: str
    retention: str
    fields: list[GovernedField]

    @staticmethod
    def _get_schema() -> str:
        return GOVERNANCE_SCHEMA_URL


@attr.define
class WithheldField:
    """A requested field the broker did not release, and the machine code saying why."""

    field: str
    reason: str


@attr.define
class AppliedTransform:
    """A privacy transform the broker applied to a released field."""

    field: str
    transform: str


@attr.define
class TillitShareRunFacet(RunFacet):
    """What a partner received in one share, under which agreement, and its audit record."""

    shareId: str
    partner: str
    purpose: str
    legalBasis: str
    agreementId: str
    agreementVersion: str
    fieldsReleased: list[str]
    fieldsWithheld: list[WithheldField]
    transforms: list[AppliedTransform]
    auditSeq: int
    auditHash: str

    @staticmethod
    def _get_schema() -> str:
        return SHARE_SCHEMA_URL


def governance_facet(contract: Contract) -> TillitGovernanceDatasetFacet:
    """The ``tillit_governance`` facet of a dataset, read off its contract."""
    return TillitGovernanceDatasetFacet(
        contractName=contract.name,
        contractVersion=contract.version,
        sourceSystem=contract.source_system,
        classification=contract.classification.value,
        purposes=list(contract.purposes),
        legalBasis=contract.legal_basis,
        retention=contract.retention,
        fields=[
            GovernedField(
                name=spec.name,
                classification=spec.classification.value,
                identifier=spec.identifier.value,
            )
            for spec in contract.fields
        ],
        producer=PRODUCER,
    )


def withheld_fields(withheld: Iterable[tuple[str, str]]) -> list[WithheldField]:
    """(field, reason) pairs, such as the policy engine's ``Withheld``, as facet entries."""
    return [WithheldField(field=field, reason=reason) for field, reason in withheld]


def applied_transforms(transforms: Mapping[str, str]) -> list[AppliedTransform]:
    """A field → transform mapping as facet entries, in the mapping's order."""
    return [AppliedTransform(field=field, transform=name) for field, name in transforms.items()]
