"""The daycare indicator table: counted as by hand, suppressed so no small cell leaks."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from contracts.datasets.indicators import (
    DAYCARE_WITHIN_FOUR_MONTHS,
    DAYCARE_WITHIN_FOUR_MONTHS_CELLS,
    SEGMENTS,
    TOTAL,
)
from contracts.disclosure import recomputable, table_values
from orchestration.assets.indicators import MONTHS, refreshed_months
from orchestration.checks import linked_disclosure_problems
from orchestration.definitions import build_definitions
from orchestration.indicators import child_rows, daycare_within_four_months, month_table
from tests.indicator_data import AS_OF, children_frame
from tests.indicator_data import MONTHS as FIXTURE_MONTHS

LAYOUT = DAYCARE_WITHIN_FOUR_MONTHS_CELLS


def test_children_are_counted_by_age_on_the_move_and_a_four_month_window() -> None:
    people = pd.DataFrame(
        [
            # person, born, moved, district, household type, children in the household
            ("a", "2022-03-01", "2026-02-10", "Keskusta", "single_parent", 1),
            ("b", "2025-06-01", "2026-02-10", "Keskusta", "single_parent", 1),  # under one
            ("c", "2018-01-01", "2026-02-20", "Nastola", "two_parents", 3),  # seven: school age
            ("d", "2020-05-05", "2026-03-31", "Nastola", "two_parents", 2),
            ("e", "2021-09-09", "2026-03-01", "Keskusta", "other", 4),
        ],
        columns=[
            "person_id",
            "birth_date",
            "move_in_date",
            "district",
            "household_type",
            "household_children",
        ],
    )
    placements = pd.DataFrame(
        [
            ("a", "2026-06-10"),  # exactly four months after the move: in time
            ("d", "2026-08-01"),  # four months and a day: late
            ("e", "2026-04-15"),
        ],
        columns=["child_id", "start_date"],
    )
    rows = child_rows(people, placements)
    assert rows.to_dict("records") == [
        {
            "month": "2026-02",
            "district": "Keskusta",
            "household_type": "single_parent",
            "children_segment": "1_child",
            "placed": True,
        },
        {
            "month": "2026-03",
            "district": "Nastola",
            "household_type": "two_parents",
            "children_segment": "2_children",
            "placed": False,
        },
        {
            "month": "2026-03",
            "district": "Keskusta",
            "household_type": "other_family",
            "children_segment": "3_or_more_children",
            "placed": True,
        },
    ]


def test_published_values_match_a_hand_count() -> None:
    table = month_table(children_frame(), "2026-01", 5, AS_OF).set_index(["district", "segment"])
    # January: Keskusta 6+2 two-parent and 5+1 single-parent children, Nastola 7+3, Kivimaa 1+1.
    assert table.loc[(TOTAL, TOTAL), ["children", "placed", "not_placed"]].tolist() == [26, 19, 7]
    assert table.loc[(TOTAL, "two_parents"), "children"] == 18
    assert table.loc[(TOTAL, "1_child"), "children"] == 8
    assert table.loc[("Laune-Liipola", TOTAL), "children"] == 0
    assert not table["provisional"].any()
    august = month_table(children_frame(), "2026-08", 5, AS_OF)
    assert august["provisional"].all()  # the window closes on 1 January 2027


def test_no_published_cell_is_small_or_recomputable_in_any_month_or_segment() -> None:
    children = children_frame()
    table = daycare_within_four_months(children, FIXTURE_MONTHS, 5, AS_OF)
    for month in FIXTURE_MONTHS:
        rows = table[table["month"] == month]
        assert len(rows) == len(LAYOUT.values("district")) * len(SEGMENTS)
        values, missing = table_values(rows, LAYOUT)
        assert not missing
        assert not [v for v in values.values() if v is not None and 0 < v < 5]
        hidden = {cell for cell, value in values.items() if value is None}
        assert recomputable(dict.fromkeys(values, 0), hidden, LAYOUT.lines()) == set()
        truth = month_table(children, month, 1, AS_OF)  # threshold 1 suppresses nothing
        merged = rows.merge(truth, on=["month", "district", "segment"], suffixes=("", "_true"))
        for measure in LAYOUT.measures:
            shown = merged[merged[measure].notna()]
            assert (shown[measure] == shown[f"{measure}_true"]).all()


def test_a_small_district_cannot_be_recomputed_from_the_city_total() -> None:
    rows = month_table(children_frame(), "2026-03", 5, AS_OF).set_index(["district", "segment"])
    kivimaa = rows.loc[("Kivimaa-Kartano", TOTAL)]
    assert kivimaa[["children", "placed", "not_placed"]].isna().all()
    districts = rows.xs(TOTAL, level="segment").drop(index=TOTAL)
    for measure in ("children", "placed", "not_placed"):
        # Subtracting the published districts from the city total never isolates one cell.
        total_hidden = pd.isna(rows.loc[(TOTAL, TOTAL), measure])
        assert total_hidden or districts[measure].isna().sum() >= 2


def test_the_blocking_check_catches_a_small_or_lonely_cell() -> None:
    table = daycare_within_four_months(children_frame(), FIXTURE_MONTHS, 5, AS_OF)
    assert linked_disclosure_problems(table, DAYCARE_WITHIN_FOUR_MONTHS) == []
    leaked = table.copy()
    small = leaked["children"].isna() & (leaked["month"] == "2026-02")
    leaked.loc[small.idxmax(), "children"] = 2
    assert any(
        "below 5" in p for p in linked_disclosure_problems(leaked, DAYCARE_WITHIN_FOUR_MONTHS)
    )
    lonely = table.copy()
    hidden = lonely[(lonely["month"] == "2026-02") & lonely["children"].isna()].index
    lonely.loc[hidden, "children"] = 99  # publish every hidden children cell but one
    lonely.loc[hidden[0], "children"] = pd.NA
    problems = linked_disclosure_problems(lonely, DAYCARE_WITHIN_FOUR_MONTHS)
    assert any("can be recomputed" in p for p in problems)


def test_the_indicator_asset_is_monthly_single_run_and_blocked_by_disclosure_control() -> None:
    graph = build_definitions().resolve_asset_graph()
    node = graph.get(dg.AssetKey("daycare_within_four_months"))
    assert node.partitions_def == MONTHS
    assert node.backfill_policy == dg.BackfillPolicy.single_run()
    checks = {k.name for k in graph.asset_check_keys if k.asset_key == node.key}
    assert {"disclosure_control", "schema_conformance"} <= checks
    assert refreshed_months(date(2026, 11, 23))[::11] == ["2025-12-01", "2026-11-01"]


@pytest.mark.integration
def test_the_pipeline_fills_the_refreshed_months(tmp_path: Path, legacy_drop: Path) -> None:
    import sqlalchemy as sa

    from orchestration.legacy import read_drop_info
    from orchestration.run import run_pipeline
    from tests.schema import migrate

    url = migrate(f"sqlite:///{tmp_path}/store.db")
    result = run_pipeline(
        url, str(legacy_drop), instance=dg.DagsterInstance.ephemeral(), log_level="ERROR"
    )
    assert result.success
    [check] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.path == ["daycare_within_four_months"]
        and e.check_name == "disclosure_control"
    ]
    assert check.passed
    months = refreshed_months(read_drop_info(legacy_drop).as_of)
    with sa.create_engine(url).connect() as conn:
        stored = sorted(
            conn.execute(sa.text("select distinct month from daycare_within_four_months")).scalars()
        )
    assert stored == [key[:7] for key in months]


def test_the_schedule_and_the_sensor_refresh_the_drops_twelve_months(legacy_drop: Path) -> None:
    from orchestration.automation import daily_refresh, legacy_drop_sensor
    from orchestration.legacy import read_drop_info
    from orchestration.resources import LegacyDropResource

    resources = {"legacy": LegacyDropResource(legacy_dir=str(legacy_drop))}
    months = refreshed_months(read_drop_info(legacy_drop).as_of)
    expected = {
        "dagster/asset_partition_range_start": months[0],
        "dagster/asset_partition_range_end": months[-1],
    }
    scheduled = daily_refresh(dg.build_schedule_context(resources=resources))
    assert isinstance(scheduled, dg.RunRequest)
    assert expected.items() <= scheduled.tags.items()
    sensed = legacy_drop_sensor(dg.build_sensor_context(resources=resources))
    assert isinstance(sensed, dg.SensorResult)
    [request] = sensed.run_requests or []
    assert expected.items() <= request.tags.items()
