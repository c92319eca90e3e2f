"""Example answers shown in the OpenAPI document for routes that return plain JSON."""

from __future__ import annotations

from typing import Any

CATALOG_ENTRY: dict[str, Any] = {
    "name": "ece_placements",
    "version": "1.1.0",
    "description": "Applications for and placements in early childhood education.",
    "owner": "team:early-childhood-education",
    "source_system": "early_childhood_education",
    "classification": "personal",
    "purposes": ["ece_placement", "daycare_fee_decision"],
    "legal_basis": "ece_act_540_2018",
    "retention": "P6Y",
    "fields": [
        {
            "name": "child_id",
            "type": "string",
            "nullable": False,
            "description": "Personal identity code of the child",
            "classification": "personal",
            "identifier": "direct",
            "source": "LPS_SIJ.LPS_HTU",
            "checks": ["henkilotunnus"],
        },
    ],
    "your_agreements": [
        {
            "agreement_id": "kela-daycare-fee-decision",
            "agreement_version": "2.0.0",
            "purposes": ["daycare_fee_decision"],
            "legal_basis": "ece_act_540_2018",
            "fields": ["child_id", "monthly_fee_eur"],
            "aggregate_only": False,
            "in_force": True,
        },
    ],
}
AGREEMENT: dict[str, Any] = {
    "id": "kela-daycare-fee-decision",
    "version": "2.0.0",
    "partner": "kela",
    "dataset": "ece_placements",
    "purposes": ["daycare_fee_decision"],
    "legal_basis": "ece_act_540_2018",
    "fields": ["child_id", "monthly_fee_eur"],
    "transforms": {"child_id": "keep"},
    "aggregate_only": False,
    "min_cell_size": 5,
    "valid_from": "2025-01-01",
    "valid_until": "2027-12-31",
    "in_force": True,
}
AUDIT_REPORT: dict[str, Any] = {
    "length": 1042,
    "head_hash": "9f2c…e41a",
    "first_broken_seq": None,
    "problem": None,
    "checkpoints_checked": 10,
    "ok": True,
}
SHARE_TRACE: dict[str, Any] = {
    "share_id": "5f0c8a52-2a8e-4a51-9a55-2d0a3f4b9b0e",
    "partner": "lahti-education",
    "dataset": "persons",
    "fields": [
        {
            "field": "district",
            "paths": [
                [
                    {
                        "namespace": "tillit://store",
                        "name": "persons",
                        "field": "district",
                        "run_id": "5f0c8a52-2a8e-4a51-9a55-2d0a3f4b9b0e",
                        "job": "share.persons",
                        "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION"}],
                    },
                    {
                        "namespace": "legacy://population-register",
                        "name": "population_register/VTJ_OTE.txt",
                        "field": "POSTINUMERO",
                        "run_id": "3ea2d97f-2312-5ea0-918c-b04cfc6de7f8",
                        "job": "pipeline.persons",
                        "transformations": [],
                    },
                ]
            ],
        }
    ],
}
READY: dict[str, Any] = {
    "ready": True,
    "checks": {"configuration": True, "database": True, "audit_writable": True},
}


def example_response(example: Any, description: str = "OK") -> dict[int | str, dict[str, Any]]:
    """An OpenAPI `responses` entry for 200 showing one example answer."""
    return {
        200: {"description": description, "content": {"application/json": {"example": example}}}
    }
