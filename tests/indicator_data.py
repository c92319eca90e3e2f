"""A small, hand-checkable population of children who moved in, and a store seeded with its
indicator table (the generated test drop is too small for any cell to survive suppression)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import sqlalchemy as sa

from contracts.datasets.indicators import DAYCARE_WITHIN_FOUR_MONTHS, PERIOD_COLUMN
from orchestration.indicators import daycare_within_four_months
from orchestration.loading import replace_periods
from tests.schema import prepare_store

AS_OF = date(2026, 11, 15)
MONTHS = ["2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08"]


def children_frame() -> pd.DataFrame:
    """Children per month: Keskusta and Nastola large enough to publish, Kivimaa small."""
    rows = []
    for index, month in enumerate(MONTHS):
        groups = [
            # district, household type, children segment, placed, not placed
            ("Keskusta", "two_parents", "2_children", 6 + index, 2),
            ("Keskusta", "single_parent", "1_child", 5, 1 + index % 2),
            ("Nastola", "two_parents", "3_or_more_children", 7, 3),
            ("Kivimaa-Kartano", "other_family", "1_child", 1, 1),
        ]
        for district, kind, segment, placed, not_placed in groups:
            rows += [(month, district, kind, segment, True)] * placed
            rows += [(month, district, kind, segment, False)] * not_placed
    return pd.DataFrame(
        rows, columns=["month", "district", "household_type", "children_segment", "placed"]
    )


def seed_indicator_table(store_url: str) -> pd.DataFrame:
    """Write the published table of ``children_frame`` into a store; return that table."""
    table = daycare_within_four_months(children_frame(), MONTHS, 5, AS_OF)
    engine = sa.create_engine(store_url)
    prepare_store(engine)
    replace_periods(
        engine,
        DAYCARE_WITHIN_FOUR_MONTHS,
        table,
        period_column=PERIOD_COLUMN,
        periods=MONTHS,
        run_id="seeded",
        source_ref="test fixture",
    )
    engine.dispose()
    return table
