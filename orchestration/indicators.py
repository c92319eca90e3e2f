"""Indicator tables computed from curated data, one month at a time, suppressed before storing.

Reading the store and counting are separate: ``children_moving_in`` reads one row per child
from the store, ``daycare_within_four_months`` is a pure function of those rows, so a test can
check the counts against a hand computation on a small frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts.datasets.indicators import (
    CHILDREN_SEGMENTS,
    DAYCARE_WITHIN_FOUR_MONTHS_CELLS,
    HOUSEHOLD_TYPE_SEGMENTS,
    TOTAL,
)
from contracts.disclosure import LinkedCell, suppress_linked
from contracts.reference import LAHTI
from contracts.registry import get_contract
from contracts.store import store_table

PLACE_WITHIN = pd.DateOffset(months=4)
_TYPE_SEGMENT = {"single_parent": "single_parent", "two_parents": "two_parents"}


def month_start(month: str) -> date:
    """The first day of a ``YYYY-MM`` month."""
    return date.fromisoformat(f"{month}-01")


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def children_moving_in(engine: Engine, months: Sequence[str]) -> pd.DataFrame:
    """One row per child aged 1–6 who moved into Lahti from elsewhere during ``months``: the
    month, district, household type, children in the household and whether a placement
    started within four months of the move."""
    p = store_table(get_contract("persons")).c
    households = store_table(get_contract("households"))
    h = households.c
    ece = store_table(get_contract("ece_placements")).c
    first, end = month_start(min(months)), _next_month(month_start(max(months)))
    query = (
        sa.select(
            p.person_id,
            p.birth_date,
            p.move_in_date,
            p.district,
            h.household_type,
            h.children.label("household_children"),
        )
        .join(households, h.household_id == p.dwelling_id)
        .where(
            p.municipality_code == LAHTI,
            p.district.is_not(None),
            p.previous_municipality_code.is_not(None),
            p.previous_municipality_code != LAHTI,
            p.move_in_date >= first,
            p.move_in_date < end,
        )
    )
    starts = sa.select(ece.child_id, ece.start_date).where(
        ece.start_date.is_not(None), ece.status.in_(["active", "ended"])
    )
    with engine.connect() as conn:
        people = pd.DataFrame(
            conn.execute(query).all(), columns=list(query.selected_columns.keys())
        )
        placements = pd.DataFrame(conn.execute(starts).all(), columns=["child_id", "start_date"])
    return child_rows(people, placements)


def child_rows(people: pd.DataFrame, placements: pd.DataFrame) -> pd.DataFrame:
    """The children aged 1–6 on the day they moved, with their segment and placement outcome."""
    moved = pd.to_datetime(people["move_in_date"])
    born = pd.to_datetime(people["birth_date"])
    young = (born <= moved - pd.DateOffset(years=1)) & (born > moved - pd.DateOffset(years=7))
    children = people.loc[young].assign(move_in_date=moved[young])
    starts = placements.assign(start_date=pd.to_datetime(placements["start_date"]))
    joined = children[["person_id", "move_in_date"]].merge(
        starts, left_on="person_id", right_on="child_id", how="left"
    )
    in_time = joined["start_date"].notna() & (
        joined["start_date"] <= joined["move_in_date"] + PLACE_WITHIN
    )
    placed = set(joined.loc[in_time, "person_id"])
    count = children["household_children"].astype(int)
    return pd.DataFrame(
        {
            "month": children["move_in_date"].dt.strftime("%Y-%m"),
            "district": children["district"].astype(str),
            "household_type": children["household_type"].map(_TYPE_SEGMENT).fillna("other_family"),
            "children_segment": pd.Series(CHILDREN_SEGMENTS[2], index=children.index)
            .mask(count == 2, CHILDREN_SEGMENTS[1])
            .mask(count <= 1, CHILDREN_SEGMENTS[0]),
            "placed": children["person_id"].isin(placed),
        }
    ).reset_index(drop=True)


def _counts(children: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int]]:
    """(district, segment) → (children, placed) for one month, totals included."""
    counts: dict[tuple[str, str], tuple[int, int]] = {}
    districts = [TOTAL, *sorted(set(children["district"]))]
    for district in districts:
        rows = children if district == TOTAL else children[children["district"] == district]
        segments = {
            TOTAL: rows,
            **{s: rows[rows["household_type"] == s] for s in HOUSEHOLD_TYPE_SEGMENTS},
            **{s: rows[rows["children_segment"] == s] for s in CHILDREN_SEGMENTS},
        }
        for segment, members in segments.items():
            counts[(district, segment)] = (len(members), int(members["placed"].sum()))
    return counts


def month_table(children: pd.DataFrame, month: str, threshold: int, as_of: date) -> pd.DataFrame:
    """One month's published rows: every district and segment, small cells suppressed."""
    layout = DAYCARE_WITHIN_FOUR_MONTHS_CELLS
    counts = _counts(children[children["month"] == month])
    values: dict[LinkedCell, int] = {}
    for district, segment, measure in layout.cells():
        total, placed = counts.get((district, segment), (0, 0))
        by_measure = {"children": total, "placed": placed, "not_placed": total - placed}
        values[(district, segment, measure)] = by_measure[measure]
    hidden = suppress_linked(values, layout.lines(), threshold)
    window_closed = pd.Timestamp(_next_month(month_start(month))) + PLACE_WITHIN <= pd.Timestamp(
        as_of
    )
    rows = []
    for district in layout.values("district"):
        for segment in layout.values("segment"):
            row: dict[str, object] = {"month": month, "district": district, "segment": segment}
            for measure in layout.measures:
                cell = (district, segment, measure)
                row[measure] = pd.NA if cell in hidden else values[cell]
            row["provisional"] = not window_closed
            rows.append(row)
    frame = pd.DataFrame(rows)
    for measure in layout.measures:
        frame[measure] = frame[measure].astype("Int64")
    return frame


def daycare_within_four_months(
    children: pd.DataFrame, months: Sequence[str], threshold: int, as_of: date
) -> pd.DataFrame:
    """The published table for ``months``: one suppressed month table after another."""
    return pd.concat(
        [month_table(children, month, threshold, as_of) for month in months], ignore_index=True
    )
