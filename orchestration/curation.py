"""Datasets Tillit computes from curated data: households, the families-moving-in view and the
indicators. Heavy aggregation runs in SQL so memory stays bounded; pandas shapes the results."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contracts.disclosure import suppress
from contracts.reference import LAHTI, lahti_districts
from contracts.registry import get_contract
from contracts.store import store_table
from orchestration.loading import iter_table, rows_frame


def years_before(day: date, years: int) -> date:
    """The same calendar day ``years`` earlier (28 February for a 29 February)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def months_before(day: date, months: int) -> date:
    """The first day of the month ``months`` before ``day``'s month."""
    index = day.year * 12 + day.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _table(name: str) -> sa.Table:
    return store_table(get_contract(name))


def _household_type(adults: pd.Series, children: pd.Series) -> pd.Series:
    kinds = pd.Series("other", index=adults.index, dtype="str")
    kinds[(adults == 1) & (children == 0)] = "single_adult"
    kinds[(adults == 2) & (children == 0)] = "couple"
    kinds[(adults == 1) & (children > 0)] = "single_parent"
    kinds[(adults == 2) & (children > 0)] = "two_parents"
    return kinds


def households(engine: Engine, as_of: date, chunk_size: int = 100_000) -> Iterator[pd.DataFrame]:
    """Households per dwelling: composition by age on ``as_of`` and the latest move-in."""
    p = _table("persons").c
    adult = p.birth_date <= years_before(as_of, 18)
    query = (
        sa.select(
            p.dwelling_id.label("household_id"),
            sa.func.min(p.municipality_code).label("municipality_code"),
            sa.func.min(p.postal_code).label("postal_code"),
            sa.func.min(p.district).label("district"),
            sa.func.sum(sa.case((adult, 1), else_=0)).label("adults"),
            sa.func.sum(sa.case((adult, 0), else_=1)).label("children"),
            sa.func.max(p.move_in_date).label("moved_in_date"),
            sa.func.max(p.previous_municipality_code).label("previous_municipality_code"),
        )
        .group_by(p.dwelling_id)
        .order_by(p.dwelling_id)
    )
    for frame in iter_table(engine, query, chunk_size):
        frame["adults"] = frame["adults"].astype("Int64")
        frame["children"] = frame["children"].astype("Int64")
        frame["moved_in_date"] = pd.to_datetime(frame["moved_in_date"])
        frame["household_type"] = _household_type(frame["adults"], frame["children"])
        yield frame


def _moved_in_with_children(as_of: date) -> sa.Select[tuple[str]]:
    h = _table("households").c
    return sa.select(h.household_id).where(
        h.municipality_code == LAHTI, h.children > 0, h.moved_in_date >= months_before(as_of, 11)
    )


def _read(engine: Engine, query: sa.Select[tuple[object, ...]]) -> pd.DataFrame:
    with engine.connect() as conn:
        result = conn.execute(query)
        return rows_frame(result.fetchall(), list(result.keys()))


def families_moving_in(engine: Engine, as_of: date) -> pd.DataFrame:
    """Families with children that moved into Lahti in the last 12 months, with their services."""
    h, p = _table("households").c, _table("persons").c
    ece, school = _table("ece_placements").c, _table("school_enrolments").c
    cases = _table("family_service_cases").c
    families = _moved_in_with_children(as_of)
    members_q = sa.select(p.person_id, p.dwelling_id, p.birth_date).where(
        p.dwelling_id.in_(families)
    )
    member_ids = sa.select(p.person_id).where(p.dwelling_id.in_(families))
    base = _read(engine, sa.select(_table("households")).where(h.household_id.in_(families)))
    members = _read(engine, members_q).rename(columns={"dwelling_id": "household_id"})
    placements = _read(
        engine, sa.select(ece.child_id, ece.status).where(ece.child_id.in_(member_ids))
    )
    pupils = _read(engine, sa.select(school.pupil_id).where(school.pupil_id.in_(member_ids)))
    open_cases = _read(
        engine,
        sa.select(cases.client_id).where(
            cases.client_id.in_(member_ids), cases.closed_date.is_(None)
        ),
    )
    household_of = members.set_index("person_id")["household_id"]
    birth = pd.to_datetime(members["birth_date"])
    under_school_age = members[
        (birth > pd.Timestamp(years_before(as_of, 7)))
        & (birth <= pd.Timestamp(years_before(as_of, 1)))
    ]
    active = set(placements.loc[placements["status"] == "active", "child_id"])
    waiting = set(placements.loc[placements["status"] == "applied", "child_id"]) - active

    def per_household(person_ids: pd.Series | set[str]) -> pd.Series:
        ids = pd.Series(sorted(person_ids), dtype="str")
        return household_of.reindex(ids).value_counts()

    view = base.set_index("household_id")
    view["children_under_school_age"] = under_school_age["household_id"].value_counts()
    view["children_in_ece"] = per_household(active)
    view["children_waiting_for_ece"] = per_household(waiting)
    view["children_in_school"] = per_household(set(pupils["pupil_id"]))
    view["has_family_service_case"] = view.index.isin(household_of.reindex(open_cases["client_id"]))
    counts = [
        "children_under_school_age",
        "children_in_ece",
        "children_waiting_for_ece",
        "children_in_school",
    ]
    view[counts] = view[counts].fillna(0).astype("Int64")
    view["children"] = view["children"].astype("Int64")
    view["has_family_service_case"] = view["has_family_service_case"].astype("boolean")
    view["moved_in_date"] = pd.to_datetime(view["moved_in_date"])
    return view.reset_index()


def daycare_demand_by_district(engine: Engine, as_of: date, threshold: int) -> pd.DataFrame:
    """Children aged 1–6, active placements and pending applications per Lahti district."""
    p, placements_table = _table("persons").c, _table("ece_placements")
    ece = placements_table.c
    young = sa.and_(
        p.municipality_code == LAHTI,
        p.district.is_not(None),
        p.birth_date > years_before(as_of, 7),
        p.birth_date <= years_before(as_of, 1),
    )
    children = _read(
        engine, sa.select(p.district, sa.func.count()).where(young).group_by(p.district)
    )
    placed = _read(
        engine,
        sa.select(p.district, ece.child_id, ece.status)
        .join(placements_table, ece.child_id == p.person_id)
        .where(
            p.municipality_code == LAHTI,
            p.district.is_not(None),
            ece.status.in_(["active", "applied"]),
        ),
    )
    active = placed[placed["status"] == "active"].drop_duplicates("child_id")
    pending = placed[(placed["status"] == "applied") & ~placed["child_id"].isin(active["child_id"])]
    pending = pending.drop_duplicates("child_id")
    districts = sorted(set(lahti_districts().values()))
    table = pd.DataFrame(
        {
            "children_1_to_6": children.set_index("district")["count_1"] if len(children) else 0,
            "active_placements": active["district"].value_counts(),
            "pending_applications": pending["district"].value_counts(),
        },
        index=pd.Index(districts, name="district"),
    ).fillna(0)
    published = pd.concat(
        [suppress(table[[column]], threshold, row_totals=False) for column in table.columns], axis=1
    )
    published.index.name = "district"
    return published.reset_index()


def new_resident_families_by_month(engine: Engine, as_of: date, threshold: int) -> pd.DataFrame:
    """Families with children that moved into Lahti by month (last 12) and district, with totals."""
    h = _table("households").c
    families = _read(
        engine,
        sa.select(h.moved_in_date, h.district).where(
            h.household_id.in_(_moved_in_with_children(as_of)), h.district.is_not(None)
        ),
    )
    first = months_before(as_of, 11)
    months = [months_before(as_of, back).strftime("%Y-%m") for back in range(11, -1, -1)]
    families["month"] = pd.to_datetime(families["moved_in_date"]).dt.strftime("%Y-%m")
    families = families[families["month"] >= first.strftime("%Y-%m")]
    districts = sorted(set(lahti_districts().values()))
    table = (
        families.groupby(["month", "district"])
        .size()
        .unstack(fill_value=0)
        .reindex(index=months, columns=districts, fill_value=0)
    )
    published = suppress(table, threshold)
    published.index.name = "month"
    long = published.stack(future_stack=True).reset_index()
    long.columns = ["month", "district", "families"]
    long["families"] = long["families"].astype("Int64")
    return long
