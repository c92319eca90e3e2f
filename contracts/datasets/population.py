"""Contracts for the population register extract: persons and the households derived from them."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.base import Classification as C
from contracts.base import IdentifierKind as I
from contracts.base import governed
from contracts.define import define_contract
from contracts.reference import district_from_postal_code

DATES = {"min_value": "1900-01-01", "max_value": "2099-12-31"}
HOUSEHOLD_TYPES = ["single_adult", "couple", "single_parent", "two_parents", "other"]


class PersonsModel(pa.DataFrameModel):
    """People whose home municipality is in the region, as the population register knows them."""

    person_id: Series[str] = governed(
        description="Personal identity code (henkilötunnus) of the person",
        classification=C.PERSONAL,
        identifier=I.DIRECT,
        source="VTJ_OTE.HETU",
        henkilotunnus=(),
    )
    last_name: Series[str] = governed(
        description="Last name",
        classification=C.PERSONAL,
        identifier=I.DIRECT,
        source="VTJ_OTE.SUKUNIMI",
        no_mojibake=(),
    )
    first_names: Series[str] = governed(
        description="First names",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="VTJ_OTE.ETUNIMET",
        no_mojibake=(),
    )
    birth_date: Series[pd.Timestamp] = governed(
        description="Date of birth",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="VTJ_OTE.SYNTYMAPVM",
        date_between=DATES,
    )
    sex: Series[str] = governed(
        description="Sex as registered",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="VTJ_OTE.SUKUPUOLI",
        isin=["male", "female"],
    )
    municipality_code: Series[str] = governed(
        description="Home municipality (Statistics Finland code)",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="VTJ_OTE.KOTIKUNTA",
        municipality_code=(),
    )
    street_address: Series[str] = governed(
        description="Permanent street address",
        classification=C.PERSONAL,
        identifier=I.DIRECT,
        source="VTJ_OTE.LAHIOSOITE",
        no_mojibake=(),
    )
    postal_code: Series[str] = governed(
        description="Postal code of the permanent address",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="VTJ_OTE.POSTINUMERO",
        postal_code=(),
    )
    district: Series[str] = governed(
        description="Lahti service district, generalised from the postal code",
        classification=C.INTERNAL,
        identifier=I.QUASI,
        source="derived:postal_code",
        nullable=True,
    )
    move_in_date: Series[pd.Timestamp] = governed(
        description="Date the person moved into the home municipality",
        classification=C.PERSONAL,
        source="VTJ_OTE.MUUTTOPVM",
        nullable=True,
        date_between=DATES,
    )
    previous_municipality_code: Series[str] = governed(
        description="Municipality the person moved from",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="VTJ_OTE.EDELLINEN_KUNTA",
        nullable=True,
        municipality_code=(),
    )
    dwelling_id: Series[str] = governed(
        description="Permanent dwelling identifier (building and apartment)",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="VTJ_OTE.ASUNTOTUNNUS",
        str_length={"min_value": 10, "max_value": 14},
    )

    class Config:
        strict = True


PERSONS = define_contract(
    PersonsModel,
    name="persons",
    version="1.0.0",
    owner="team:population-data",
    source_system="population_register",
    purposes=("population_information",),
    legal_basis="population_information_act_661_2009",
    retention="P10Y",
    primary_key=("person_id",),
    derivations={"district": lambda frame: district_from_postal_code(frame["postal_code"])},
    quarantine_limit=0.05,
)


class HouseholdsModel(pa.DataFrameModel):
    """Households: the people registered in one dwelling, with their composition and move-in."""

    household_id: Series[str] = governed(
        description="Dwelling the household lives in",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="persons.dwelling_id",
    )
    municipality_code: Series[str] = governed(
        description="Home municipality",
        classification=C.INTERNAL,
        source="persons.municipality_code",
        municipality_code=(),
    )
    postal_code: Series[str] = governed(
        description="Postal code",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="persons.postal_code",
        postal_code=(),
    )
    district: Series[str] = governed(
        description="Lahti service district",
        classification=C.INTERNAL,
        identifier=I.QUASI,
        source="persons.district",
        nullable=True,
    )
    adults: Series[pd.Int64Dtype] = governed(
        description="Members aged 18 or over",
        classification=C.INTERNAL,
        source="persons.birth_date",
        ge=0,
    )
    children: Series[pd.Int64Dtype] = governed(
        description="Members under 18",
        classification=C.INTERNAL,
        source="persons.birth_date",
        ge=0,
    )
    household_type: Series[str] = governed(
        description="Composition: single adult, couple, single parent, two parents or other",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="persons.birth_date",
        isin=HOUSEHOLD_TYPES,
    )
    moved_in_date: Series[pd.Timestamp] = governed(
        description="Latest move-in date of any member",
        classification=C.PERSONAL,
        source="persons.move_in_date",
        nullable=True,
    )
    previous_municipality_code: Series[str] = governed(
        description="Municipality the household moved from",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="persons.previous_municipality_code",
        nullable=True,
    )

    class Config:
        strict = True


HOUSEHOLDS = define_contract(
    HouseholdsModel,
    name="households",
    version="1.0.0",
    owner="team:population-data",
    source_system="tillit",
    purposes=("population_information",),
    legal_basis="population_information_act_661_2009",
    retention="P10Y",
    primary_key=("household_id",),
)
