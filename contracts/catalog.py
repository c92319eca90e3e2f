"""Machine-readable descriptions of contracts, for the broker's catalog and for exports."""

from __future__ import annotations

from typing import Any

from contracts.base import Contract, FieldSpec


def describe_field(spec: FieldSpec) -> dict[str, Any]:
    """One field as the catalog shows it."""
    return {
        "name": spec.name,
        "type": spec.dtype,
        "nullable": spec.nullable,
        "description": spec.description,
        "classification": spec.classification.value,
        "identifier": spec.identifier.value,
        "source": spec.source,
        "checks": list(spec.checks),
    }


def describe(contract: Contract) -> dict[str, Any]:
    """A JSON-serialisable description of a contract: governance first, then fields."""
    return {
        "name": contract.name,
        "version": contract.version,
        "description": contract.description,
        "owner": contract.owner,
        "source_system": contract.source_system,
        "classification": contract.classification.value,
        "purposes": list(contract.purposes),
        "legal_basis": contract.legal_basis,
        "retention": contract.retention,
        "primary_key": list(contract.primary_key),
        "references": [
            {"field": ref.field, "dataset": ref.dataset, "key": ref.key}
            for ref in contract.references
        ],
        "aggregate": contract.aggregate,
        "min_cell_size": contract.min_cell_size if contract.aggregate else None,
        "fields": [describe_field(spec) for spec in contract.fields],
    }
