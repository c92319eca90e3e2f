"""Contract for basic education enrolments from the school administration's XML export."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.base import Classification as C
from contracts.base import IdentifierKind as I
from contracts.base import Reference, governed
from contracts.datasets.population import DATES
from contracts.define import define_contract


class SchoolEnrolmentsModel(pa.DataFrameModel):
    """Pupils enrolled in pre-primary and basic education, one row per enrolment."""

    enrolment_id: Series[str] = governed(
        description="Enrolment identifier in the school system",
        classification=C.INTERNAL,
        source="oppilas@id",
    )
    pupil_id: Series[str] = governed(
        description="Personal identity code of the pupil",
        classification=C.PERSONAL,
        identifier=I.DIRECT,
        source="oppilas/hetu",
        henkilotunnus=(),
    )
    school_code: Series[str] = governed(
        description="School code",
        classification=C.PUBLIC,
        source="oppilas/koulu@koodi",
    )
    school_name: Series[str] = governed(
        description="School name",
        classification=C.PUBLIC,
        source="oppilas/koulu",
        no_mojibake=(),
    )
    grade: Series[pd.Int64Dtype] = governed(
        description="Grade: 0 for pre-primary, 1–9 for basic education",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="oppilas/luokka",
        in_range={"min_value": 0, "max_value": 10},
    )
    start_date: Series[pd.Timestamp] = governed(
        description="First day at the school",
        classification=C.PERSONAL,
        source="oppilas/alkupvm",
        date_between=DATES,
    )
    language: Series[str] = governed(
        description="Language of instruction (fi or sv)",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="oppilas/kieli",
        isin=["fi", "sv"],
    )
    support_level: Series[str] = governed(
        description="Level of learning support: general, intensified or special",
        classification=C.SENSITIVE,
        source="oppilas/tuki",
        isin=["general", "intensified", "special"],
    )

    class Config:
        strict = True


SCHOOL_ENROLMENTS = define_contract(
    SchoolEnrolmentsModel,
    name="school_enrolments",
    version="1.0.0",
    owner="team:basic-education",
    source_system="school_enrolment",
    purposes=("school_enrolment",),
    legal_basis="basic_education_act_628_1998",
    retention="P10Y",
    primary_key=("enrolment_id",),
    references=(Reference("pupil_id", "persons", "person_id"),),
    quarantine_limit=0.08,
)
