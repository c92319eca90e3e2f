"""Contract for family social services cases from the wellbeing services county's case system."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.base import Classification as C
from contracts.base import IdentifierKind as I
from contracts.base import Reference, governed
from contracts.datasets.population import DATES
from contracts.define import define_contract

CASE_TYPES = ["family_work", "child_welfare_notification", "home_service", "parenting_support"]


class FamilyServiceCasesModel(pa.DataFrameModel):
    """Family social services cases: sensitive social welfare client data, one row per case."""

    case_id: Series[str] = governed(
        description="Case number",
        classification=C.INTERNAL,
        source="perhepalvelut.Asianumero",
    )
    client_id: Series[str] = governed(
        description="Personal identity code of the client",
        classification=C.SENSITIVE,
        identifier=I.DIRECT,
        source="perhepalvelut.Henkilötunnus",
        henkilotunnus=(),
    )
    case_type: Series[str] = governed(
        description="Kind of service or notification",
        classification=C.SENSITIVE,
        source="perhepalvelut.Asian tyyppi",
        isin=CASE_TYPES,
    )
    opened_date: Series[pd.Timestamp] = governed(
        description="Date the case was opened",
        classification=C.SENSITIVE,
        source="perhepalvelut.Avattu",
        date_between=DATES,
    )
    closed_date: Series[pd.Timestamp] = governed(
        description="Date the case was closed",
        classification=C.SENSITIVE,
        source="perhepalvelut.Suljettu",
        nullable=True,
        date_between=DATES,
    )
    previous_municipality_code: Series[str] = governed(
        description="Municipality where the case began, if elsewhere",
        classification=C.SENSITIVE,
        identifier=I.QUASI,
        source="perhepalvelut.Edellinen kunta",
        nullable=True,
        municipality_code=(),
    )
    unit: Series[str] = governed(
        description="Responsible service unit",
        classification=C.INTERNAL,
        source="perhepalvelut.Yksikkö",
    )
    support_eur: Series[float] = governed(
        description="Financial support granted in euros; empty when none was granted",
        classification=C.SENSITIVE,
        source="perhepalvelut.Tuki euroa",
        nullable=True,
        non_negative=(),
    )

    class Config:
        strict = True


FAMILY_SERVICE_CASES = define_contract(
    FamilyServiceCasesModel,
    name="family_service_cases",
    version="1.1.0",
    owner="team:family-social-services",
    source_system="family_services",
    purposes=("family_service_needs_assessment", "child_welfare_follow_up"),
    legal_basis="social_welfare_act_1301_2014",
    retention="P12Y",
    primary_key=("case_id",),
    references=(Reference("client_id", "persons", "person_id"),),
    # A small, hand-kept case register: a few typos are a large share of it.
    quarantine_limit=0.10,
)
