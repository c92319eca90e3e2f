"""Request and response models of the sharing API (extra keys are refused, nothing extra leaks)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

FilterValue = str | int | float | bool | None
NAME = r"^[a-z][a-z0-9_]{0,63}$"
FieldName = Annotated[str, StringConstraints(pattern=NAME)]


class ShareRequestBody(BaseModel):
    """A partner's request: a dataset, for a purpose, on a legal basis; optionally some fields."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "dataset": "persons",
                    "purpose": "ece_placement",
                    "legal_basis": "ece_act_540_2018",
                    "fields": ["person_id", "first_names", "birth_date", "district"],
                    "filters": {"district": "Keskusta"},
                }
            ]
        },
    )

    dataset: str = Field(pattern=NAME, description="Dataset (contract) name")
    purpose: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,63}$", description="Purpose id")
    legal_basis: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,95}$", description="Legal basis id")
    fields: list[FieldName] | None = Field(
        default=None, max_length=64, description="Fields wanted; all permitted fields if omitted"
    )
    filters: dict[str, FilterValue] | None = Field(
        default=None, max_length=16, description="Equality filters on released fields"
    )


class WithheldField(BaseModel):
    """A requested field that was not released, and why."""

    model_config = ConfigDict(extra="forbid")

    field: str
    reason: str


RECEIPT_EXAMPLE: dict[str, Any] = {
    "share_id": "5f0c8a52-2a8e-4a51-9a55-2d0a3f4b9b0e",
    "dataset": "persons",
    "contract_version": "1.0.0",
    "agreement_id": "lahti-education-ece-placement",
    "agreement_version": "1.0.0",
    "purpose": "ece_placement",
    "legal_basis": "ece_act_540_2018",
    "fields": ["first_names", "birth_date", "district"],
    "withheld_fields": [{"field": "dwelling_id", "reason": "field_not_in_agreement"}],
    "transforms": {"first_names": "keep", "birth_date": "keep", "district": "keep"},
    "aggregate": False,
    "row_count": 1,
    "warnings": [],
    "audit_seq": 1042,
    "created_at": "2026-11-23T09:15:02.511203+02:00",
}


class ShareReceipt(BaseModel):
    """What was released, to whom, under which agreement; kept for the partner and auditors."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [RECEIPT_EXAMPLE]})

    share_id: str
    dataset: str
    contract_version: str
    agreement_id: str
    agreement_version: str
    purpose: str
    legal_basis: str
    fields: list[str]
    withheld_fields: list[WithheldField]
    transforms: dict[str, str]
    aggregate: bool
    row_count: int
    warnings: list[str]
    audit_seq: int
    created_at: datetime


class ShareResponse(ShareReceipt):
    """A receipt with the released rows of one page."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    **RECEIPT_EXAMPLE,
                    "rows": [
                        {
                            "first_names": "Aino Helmi",
                            "birth_date": "2022-04-13",
                            "district": "Keskusta",
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        },
    )

    rows: list[dict[str, Any]]
    next_cursor: str | None = None
