"""Contracts for aggregated indicators; small cells are suppressed before anything is stored."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from contracts.base import Classification as C
from contracts.base import governed
from contracts.define import define_contract
from contracts.disclosure import CountTable
from contracts.reference import lahti_districts

TOTAL = "Total"


def published_count(description: str, *, source: str) -> Any:
    """A public count cell: never negative, empty where disclosure control suppressed it."""
    return governed(
        description=description, classification=C.PUBLIC, source=source, nullable=True, ge=0
    )


class DaycareDemandByDistrictModel(pa.DataFrameModel):
    """Children aged 1–6 in each Lahti district against early childhood education places and
    pending applications. Empty cells were suppressed because they were below the threshold."""

    district: Series[str] = governed(
        description=f"Lahti service district, or {TOTAL!r} for the whole city",
        classification=C.PUBLIC,
        source="persons.district",
    )
    children_1_to_6: Series[pd.Int64Dtype] = published_count(
        "Children aged 1–6 living in the district",
        source="persons.birth_date",
    )
    active_placements: Series[pd.Int64Dtype] = published_count(
        "Children with an active placement",
        source="ece_placements.status",
    )
    pending_applications: Series[pd.Int64Dtype] = published_count(
        "Children whose application has no placement yet",
        source="ece_placements.status",
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
    families: Series[pd.Int64Dtype] = published_count(
        "Families that moved in",
        source="households.household_id",
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


# Segments of the households dataset an indicator may be broken down by: household type and
# number of children are two breakdowns of the same families, each adding up to the total.
HOUSEHOLD_TYPE_SEGMENTS = ("single_parent", "two_parents", "other_family")
CHILDREN_SEGMENTS = ("1_child", "2_children", "3_or_more_children")
SEGMENTS = (TOTAL, *HOUSEHOLD_TYPE_SEGMENTS, *CHILDREN_SEGMENTS)


class DaycareWithinFourMonthsModel(pa.DataFrameModel):
    """Children aged 1–6 who moved into Lahti from another municipality, by month of the move,
    district and household segment, and how many of them had an early childhood education
    place starting within four months of the move. Empty cells were suppressed because they,
    or a cell they would reveal, were small."""

    month: Series[str] = governed(
        description="Month of the move (YYYY-MM)",
        classification=C.PUBLIC,
        source="persons.move_in_date",
        str_matches=r"^\d{4}-\d{2}$",
    )
    district: Series[str] = governed(
        description=f"Lahti service district, or {TOTAL!r}",
        classification=C.PUBLIC,
        source="persons.district",
    )
    segment: Series[str] = governed(
        description=(
            f"Household segment: {TOTAL!r}, a household type "
            f"({', '.join(HOUSEHOLD_TYPE_SEGMENTS)}) or a number of children "
            f"({', '.join(CHILDREN_SEGMENTS)})"
        ),
        classification=C.PUBLIC,
        source="households.household_type",
        isin=list(SEGMENTS),
    )
    children: Series[pd.Int64Dtype] = published_count(
        "Children aged 1–6 who moved in",
        source="persons.birth_date",
    )
    placed: Series[pd.Int64Dtype] = published_count(
        "Of them, children whose placement started within four months of the move",
        source="ece_placements.start_date",
    )
    not_placed: Series[pd.Int64Dtype] = published_count(
        "Of them, children with no placement starting within four months",
        source="ece_placements.start_date",
    )
    provisional: Series[bool] = governed(
        description="True while four months have not yet passed since the end of the month",
        classification=C.PUBLIC,
        source="persons.move_in_date",
    )

    class Config:
        strict = True


DAYCARE_WITHIN_FOUR_MONTHS = define_contract(
    DaycareWithinFourMonthsModel,
    name="daycare_within_four_months",
    version="1.0.0",
    owner="team:city-analytics",
    source_system="tillit",
    purposes=("knowledge_management", "official_statistics"),
    legal_basis="secondary_use_act_552_2019",
    retention="P10Y",
    primary_key=("month", "district", "segment"),
    min_cell_size=5,
    aggregate=True,
)

# The equations one month of the table exposes: districts add up to the city, each segment
# breakdown adds up to all families, and placed + not placed add up to the children.
DAYCARE_WITHIN_FOUR_MONTHS_CELLS = CountTable(
    dimensions=(
        ("district", (tuple(sorted(set(lahti_districts().values()))),)),
        ("segment", (HOUSEHOLD_TYPE_SEGMENTS, CHILDREN_SEGMENTS)),
    ),
    measures=("children", "placed", "not_placed"),
    measure_sums=(("children", ("placed", "not_placed")),),
)
PERIOD_COLUMN = "month"
# Published tables laid out as linked count tables, with the column that splits them in periods.
LINKED_TABLES: dict[str, tuple[CountTable, str]] = {
    DAYCARE_WITHIN_FOUR_MONTHS.name: (DAYCARE_WITHIN_FOUR_MONTHS_CELLS, PERIOD_COLUMN),
}
