"""Citizens' own data: download it (GDPR Art. 15 and 20) and grant or revoke consents."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from broker.api.problems import problem_responses
from broker.deps import Citizen, Consents, Exporter
from broker.mydata.consents import ConsentGrant, StoredConsent
from broker.mydata.formats import CSV_MEDIA, choose_format, export_csv, export_document
from broker.sharing.models import NAME, FieldName

router = APIRouter(prefix="/v1/subjects", tags=["citizens"])
Slug = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_-]{0,79}$")]


class ConsentBody(BaseModel):
    """A consent: which partner may use which fields of a dataset, for what, until when."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "partner": "lahti-education",
                    "dataset": "ece_placements",
                    "purpose": "school_start_support",
                    "fields": ["child_id", "unit_name", "start_date", "status"],
                    "valid_until": "2027-07-31",
                }
            ]
        },
    )

    partner: Slug
    dataset: str = Field(pattern=NAME)
    purpose: Slug
    fields: list[FieldName] = Field(min_length=1, max_length=64)
    valid_until: date


class Consent(BaseModel):
    """A consent of the signed-in person and its state now (valid, revoked or expired)."""

    model_config = ConfigDict(extra="forbid")

    consent_id: str
    partner: str
    dataset: str
    purpose: str
    agreement_id: str
    fields: list[str]
    valid_until: date
    granted_at: datetime
    revoked_at: datetime | None
    status: str


def _consent(stored: StoredConsent) -> Consent:
    return Consent(**stored.__dict__)


@router.get(
    "/me/data",
    summary="Download my own data",
    responses={
        200: {
            "description": "The person's rows per dataset, with field descriptions",
            "content": {"application/json": {}, CSV_MEDIA: {}},
        },
        **problem_responses(401, 403, 422, 429, 503),
    },
)
def my_data(
    principal: Citizen,
    exporter: Exporter,
    dataset: Annotated[str | None, Query(pattern=NAME, description="One dataset only")] = None,
    format: Annotated[str | None, Query(description="json or csv")] = None,  # noqa: A002
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    """The data Tillit holds about the signed-in person (token `sub`), audited before release.

    Fields the law withholds from the person are listed under `withheld_fields` with the law
    and the reason. `Accept: text/csv` or `format=csv` gives one line per value.
    """
    chosen = choose_format(format, accept)
    export = exporter.export(principal, dataset)
    headers = {"Cache-Control": "no-store"}
    if chosen == "csv":
        headers["Content-Disposition"] = 'attachment; filename="tillit-my-data.csv"'
        return Response(export_csv(export), media_type=CSV_MEDIA, headers=headers)
    document: dict[str, Any] = export_document(export)
    return JSONResponse(document, headers=headers)


@router.get(
    "/me/consents",
    response_model=list[Consent],
    summary="My consents",
    responses=problem_responses(401, 403, 429),
)
def my_consents(principal: Citizen, consents: Consents) -> list[Consent]:
    """The signed-in person's consents, newest first, with revoked and expired ones."""
    return [_consent(item) for item in consents.list(principal)]


@router.post(
    "/me/consents",
    response_model=Consent,
    status_code=201,
    summary="Grant a consent",
    responses=problem_responses(400, 401, 403, 413, 422, 429, 503),
)
def grant_consent(principal: Citizen, consents: Consents, body: ConsentBody) -> Consent:
    """Consent to a consent agreement in force (GDPR Art. 6(1)(a)); recorded in the audit log."""
    grant = ConsentGrant(
        partner=body.partner,
        dataset=body.dataset,
        purpose=body.purpose,
        fields=tuple(body.fields),
        valid_until=body.valid_until,
    )
    return _consent(consents.grant(principal, grant))


@router.delete(
    "/me/consents/{consent_id}",
    response_model=Consent,
    summary="Revoke a consent",
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
)
def revoke_consent(
    principal: Citizen,
    consents: Consents,
    consent_id: Annotated[str, Path(max_length=64)],
) -> Consent:
    """Revoke one's own consent; it stops releases from the next request (404 if not yours)."""
    return _consent(consents.revoke(principal, consent_id))
