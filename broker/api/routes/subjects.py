"""Citizens' view: who received data about me, when, for what purpose, on what basis."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from broker.api.problems import problem_responses
from broker.deps import Citizen, Runtime
from broker.runtime import BrokerRuntime
from broker.store.subjects import SubjectKeys, subject_index_key
from broker.store.tables import disclosures

router = APIRouter(prefix="/v1/subjects", tags=["citizens"])


class Disclosure(BaseModel):
    """One release of data about the signed-in person."""

    model_config = ConfigDict(extra="forbid")

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
        rows = conn.execute(
            sa.select(disclosures)
            .where(disclosures.c.subject_key == key, disclosures.c.visible_from <= runtime.now())
            .order_by(disclosures.c.disclosed_at.desc(), disclosures.c.id.desc())
        ).all()
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
