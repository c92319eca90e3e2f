"""Contract for the cross-sector view of families that moved in, with their current services."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.base import Classification as C
from contracts.base import IdentifierKind as I
from contracts.base import governed
from contracts.datasets.population import HOUSEHOLD_TYPES
from contracts.define import define_contract


class FamiliesMovingInModel(pa.DataFrameModel):
    """Households with children that moved into the municipality in the last 12 months,
    with the early childhood education, school and family services they use now."""

    household_id: Series[str] = governed(
        description="Dwelling the family lives in",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="households.household_id",
    )
    district: Series[str] = governed(
        description="Lahti service district",
        classification=C.INTERNAL,
        identifier=I.QUASI,
        source="households.district",
        nullable=True,
    )
    moved_in_date: Series[pd.Timestamp] = governed(
        description="Date the family moved in",
        classification=C.PERSONAL,
        source="households.moved_in_date",
    )
    previous_municipality_code: Series[str] = governed(
        description="Municipality the family moved from",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="households.previous_municipality_code",
        nullable=True,
    )
    household_type: Series[str] = governed(
        description="Single parent, two parents or other",
        classification=C.PERSONAL,
        identifier=I.QUASI,
        source="households.household_type",
        isin=HOUSEHOLD_TYPES,
    )
    children: Series[pd.Int64Dtype] = governed(
        description="Children under 18",
        classification=C.INTERNAL,
        source="households.children",
        ge=1,
    )
    children_under_school_age: Series[pd.Int64Dtype] = governed(
        description="Children aged 1–6 who may need early childhood education",
        classification=C.INTERNAL,
        source="persons.birth_date",
        ge=0,
    )
    children_in_ece: Series[pd.Int64Dtype] = governed(
        description="Children with an active early childhood education placement",
        classification=C.PERSONAL,
        source="ece_placements.status",
        ge=0,
    )
    children_waiting_for_ece: Series[pd.Int64Dtype] = governed(
        description="Children with an application but no active placement",
        classification=C.PERSONAL,
        source="ece_placements.status",
        ge=0,
    )
    children_in_school: Series[pd.Int64Dtype] = governed(
        description="Children enrolled in pre-primary or basic education",
        classification=C.PERSONAL,
        source="school_enrolments.pupil_id",
        ge=0,
    )
    has_family_service_case: Series[pd.BooleanDtype] = governed(
        description="Whether a family member has an open family services case",
        classification=C.SENSITIVE,
        source="family_service_cases.closed_date",
    )

    class Config:
        strict = True


FAMILIES_MOVING_IN = define_contract(
    FamiliesMovingInModel,
    name="families_moving_in",
    version="1.0.0",
    owner="team:city-analytics",
    source_system="tillit",
    purposes=("knowledge_management",),
    legal_basis="secondary_use_act_552_2019",
    retention="P2Y",
    primary_key=("household_id",),
)
