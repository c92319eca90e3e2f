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


INDICATOR: dict[str, Any] = {
    "id": "daycare_place_within_four_months",
    "goal": "daycare_for_families_moving_in",
    "title": {
        "fi": "Varhaiskasvatuspaikka neljässä kuukaudessa muutosta",
        "sv": "Plats i småbarnspedagogik inom fyra månader efter flytten",
        "en": "Daycare place within four months of moving in",
    },
    "description": {
        "fi": "Osuus Lahteen muuttaneista 1–6-vuotiaista…",
        "sv": "Andelen barn i åldern 1–6 år…",
        "en": "Share of children aged 1–6 who moved to Lahti…",
    },
    "unit": "percent",
    "target": {"value": 90.0, "direction": "at_least"},
    "owner": "team:early-childhood-education",
    "asset": "daycare_within_four_months",
    "contracts": [
        {
            "name": "daycare_within_four_months",
            "version": "1.0.0",
            "catalog": "/catalog#daycare_within_four_months",
        },
        {"name": "persons", "version": "1.0.0", "catalog": "/catalog#persons"},
    ],
    "lineage": "/v1/lineage/datasets/tillit://store/daycare_within_four_months",
    "share_id": "0b7e3c8e-4f7a-4a52-8a43-3f6d1c2b9a10",
    "values": [
        {
            "month": "2026-06",
            "district": "Total",
            "segment": "Total",
            "value": 84.6,
            "numerator": 22,
            "denominator": 26,
            "provisional": False,
            "meets_target": False,
        },
        {
            "month": "2026-06",
            "district": "Keskusta",
            "segment": "Total",
            "value": None,
            "numerator": None,
            "denominator": None,
            "provisional": False,
            "meets_target": None,
        },
    ],
}
