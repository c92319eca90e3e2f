"""Citizens' view: who received data about me, when, for what purpose, on what basis."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from broker.api.problems import problem_responses
from broker.deps import Citizen, Runtime
from broker.runtime import BrokerRuntime
from broker.store.disclosures import disclosures_of
from broker.store.subjects import SubjectKeys, subject_index_key

router = APIRouter(prefix="/v1/subjects", tags=["citizens"])


class Disclosure(BaseModel):
    """One release of data about the signed-in person."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "share_id": "5f0c8a52-2a8e-4a51-9a55-2d0a3f4b9b0e",
                    "partner": "lahti-education",
                    "partner_name": "City of Lahti, education and training division",
                    "dataset": "persons",
                    "purpose": "ece_placement",
                    "purpose_description": "Placing a child in early childhood education",
                    "legal_basis": "ece_act_540_2018",
                    "legal_basis_title": "Act on Early Childhood Education and Care",
                    "legal_basis_reference": "https://www.finlex.fi/fi/laki/ajantasa/2018/20180540",
                    "disclosed_at": "2026-11-23T09:15:02+02:00",
                }
            ]
        },
    )

    share_id: str
    partner: str
    partner_name: str
    dataset: str
    purpose: str
    purpose_description: str
    legal_basis: str
    legal_basis_title: str
    legal_basis_reference: str
    disclosed_at: datetime


@router.get(
    "/me/disclosures",
    response_model=list[Disclosure],
    summary="Who received data about me",
    responses=problem_responses(401, 403),
)
def my_disclosures(principal: Citizen, runtime: Runtime) -> list[Disclosure]:
    """Disclosures about the signed-in citizen (token `sub` = identity code), newest first."""
    return disclosures_about(runtime, principal.subject)


def disclosures_about(runtime: BrokerRuntime, identity_code: str) -> list[Disclosure]:
    """Disclosures about one person that are visible to them by now, newest first."""
    key = SubjectKeys(subject_index_key(runtime.secrets.pseudonym_key)).key(identity_code)
    with runtime.engine.connect() as conn:
        rows = disclosures_of(conn, key, runtime.now())
    config = runtime.config
    return [
        Disclosure(
            share_id=row.share_id,
            partner=row.partner,
            partner_name=config.partners[row.partner].name
            if row.partner in config.partners
            else row.partner,
            dataset=row.dataset,
            purpose=row.purpose,
            purpose_description=config.purposes[row.purpose].description
            if row.purpose in config.purposes
            else "",
            legal_basis=row.legal_basis,
            legal_basis_title=config.legal_bases[row.legal_basis].title
            if row.legal_basis in config.legal_bases
            else "",
            legal_basis_reference=str(config.legal_bases[row.legal_basis].reference)
            if row.legal_basis in config.legal_bases
            else "",
            disclosed_at=row.disclosed_at,
        )
        for row in rows
    ]
