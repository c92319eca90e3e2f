"""Dagster metadata derived from contracts, so the UI shows what each contract says."""

from __future__ import annotations

from typing import Any

import dagster as dg

from contracts.base import Contract
from orchestration.loading import LoadStats

_TYPES = {
    "string": "string",
    "date": "date",
    "integer": "integer",
    "number": "float",
    "boolean": "boolean",
}


def column_schema(contract: Contract) -> dg.TableSchema:
    """The contract's fields as a Dagster table schema, tagged with their classifications."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=spec.name,
                type=_TYPES[spec.dtype],
                description=f"{spec.description} — {spec.classification.value}, "
                f"{spec.identifier.value} identifier, from {spec.source}",
                constraints=dg.TableColumnConstraints(
                    nullable=spec.nullable, unique=contract.primary_key == (spec.name,)
                ),
                tags={
                    "classification": spec.classification.value,
                    "identifier": spec.identifier.value,
                },
            )
            for spec in contract.fields
        ]
    )


def definition_metadata(contract: Contract) -> dict[str, Any]:
    """Metadata shown on the asset's page before any run: schema and governance."""
    return {
        "dagster/column_schema": column_schema(contract),
        "contract": contract.name,
        "contract_version": contract.version,
        "classification": contract.classification.value,
        "purposes": ", ".join(contract.purposes),
        "legal_basis": contract.legal_basis,
        "retention": contract.retention,
    }


def load_metadata(contract: Contract, stats: LoadStats) -> dict[str, Any]:
    """Metadata of one materialization: what landed, what was quarantined and why."""
    reasons = "\n".join(
        f"| {check} | {count} |" for check, count in stats.quarantined_by_check.most_common()
    )
    return {
        "dagster/row_count": stats.rows_loaded,
        "dagster/column_schema": column_schema(contract),
        "rows_in": stats.rows_in,
        "rows_quarantined": stats.rows_quarantined,
        "quarantine_rate": round(stats.quarantine_rate, 6),
        "contract_version": contract.version,
        "quarantine_reasons": dg.MetadataValue.md(
            "| check | rows |\n|---|---|\n" + reasons if reasons else "nothing quarantined"
        ),
    }
