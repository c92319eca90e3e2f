"""Contracts for aggregated indicators; small cells are suppressed before anything is stored."""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.base import Classification as C
from contracts.base import governed
from contracts.define import define_contract

TOTAL = "Total"


class DaycareDemandByDistrictModel(pa.DataFrameModel):
    """Children aged 1–6 in each Lahti district against early childhood education places and
    pending applications. Empty cells were suppressed because they were below the threshold."""

    district: Series[str] = governed(
        description=f"Lahti service district, or {TOTAL!r} for the whole city",
        classification=C.PUBLIC,
        source="persons.district",
    )
    children_1_to_6: Series[pd.Int64Dtype] = governed(
        description="Children aged 1–6 living in the district",
        classification=C.PUBLIC,
        source="persons.birth_date",
        nullable=True,
        ge=0,
    )
    active_placements: Series[pd.Int64Dtype] = governed(
        description="Children with an active placement",
        classification=C.PUBLIC,
        source="ece_placements.status",
        nullable=True,
        ge=0,
    )
    pending_applications: Series[pd.Int64Dtype] = governed(
        description="Children whose application has no placement yet",
        classification=C.PUBLIC,
        source="ece_placements.status",
        nullable=True,
        ge=0,
    )

    class Config:
        strict = True


DAYCARE_DEMAND_BY_DISTRICT = define_contract(
    DaycareDemandByDistrictModel,
    name="daycare_demand_by_district",
    version="1.0.0",
    owner="team:city-analytics",
    source_system="tillit",
    purposes=("knowledge_management", "official_statistics"),
    legal_basis="secondary_use_act_552_2019",
    retention="P10Y",
    primary_key=("district",),
    min_cell_size=5,
    aggregate=True,
)


class NewResidentFamiliesByMonthModel(pa.DataFrameModel):
    """Families with children that moved into Lahti, by month of the move and district, with
    totals. Empty cells were suppressed because they, or a cell they would reveal, were small."""

    month: Series[str] = governed(
        description=f"Month of the move (YYYY-MM), or {TOTAL!r}",
        classification=C.PUBLIC,
        source="households.moved_in_date",
        str_matches=r"^(\d{4}-\d{2}|Total)$",
    )
    district: Series[str] = governed(
        description=f"Lahti service district, or {TOTAL!r}",
        classification=C.PUBLIC,
        source="households.district",
    )
    families: Series[pd.Int64Dtype] = governed(
        description="Families that moved in",
        classification=C.PUBLIC,
        source="households.household_id",
        nullable=True,
        ge=0,
    )

    class Config:
        strict = True


NEW_RESIDENT_FAMILIES_BY_MONTH = define_contract(
    NewResidentFamiliesByMonthModel,
    name="new_resident_families_by_month",
    version="1.0.0",
    owner="team:city-analytics",
    source_system="tillit",
    purposes=("knowledge_management", "official_statistics"),
    legal_basis="secondary_use_act_552_2019",
    retention="P10Y",
    primary_key=("month", "district"),
    min_cell_size=5,
    aggregate=True,
)
