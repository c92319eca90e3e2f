"""The whole pipeline over a generated drop: defects held, clean rows loaded, reruns stable."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from orchestration.legacy import READERS, count_source_rows, load_manifest
from tests.orchestration.pipeline_helpers import materialized, quarantine_frame, row_counts, run

pytestmark = pytest.mark.integration

SYSTEM_DATASETS = {
    "population_register": "persons",
    "early_childhood_education": "ece_placements",
    "school_enrolment": "school_enrolments",
    "family_services": "family_service_cases",
}


@pytest.fixture(scope="module")
def store(
    tmp_path_factory: pytest.TempPathFactory, legacy_drop: Path
) -> Iterator[tuple[str, dg.ExecuteInProcessResult]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('store')}/tillit.db"
    yield url, run(url, legacy_drop)


def test_the_full_pipeline_succeeds_with_every_check_passing(
    store: tuple[str, dg.ExecuteInProcessResult],
) -> None:
    _, result = store
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(evaluation.passed for evaluation in evaluations)
    assert {
        "persons",
        "households",
        "families_moving_in",
        "daycare_demand_by_district",
        "new_resident_families_by_month",
    } <= materialized(result)


def test_every_injected_defect_is_quarantined_with_the_right_check(
    store: tuple[str, dg.ExecuteInProcessResult], legacy_drop: Path
) -> None:
    url, _ = store
    held = quarantine_frame(url).set_index(["source_system", "source_ref"])
    manifest = load_manifest(legacy_drop)
    assert len(manifest) > 20
    for defect in manifest:
        key = (defect.system, defect.source_ref)
        assert key in held.index, f"{defect} was loaded"
        assert held.loc[key, "check_name"] == defect.expected_check, defect
    # ... and nothing else was quarantined: the clean rows all loaded.
    assert len(held) == len(manifest)


def test_rows_in_equal_rows_loaded_plus_rows_quarantined(
    store: tuple[str, dg.ExecuteInProcessResult], legacy_drop: Path
) -> None:
    url, _ = store
    counts = row_counts(url)
    held = quarantine_frame(url)["dataset"].value_counts()
    for system, dataset in SYSTEM_DATASETS.items():
        assert count_source_rows(legacy_drop)[system] == counts[dataset] + held.get(dataset, 0)


def test_a_rerun_leaves_identical_row_counts(
    store: tuple[str, dg.ExecuteInProcessResult], legacy_drop: Path
) -> None:
    url, _ = store
    before = row_counts(url)
    assert run(url, legacy_drop).success
    assert row_counts(url) == before


def test_indicators_show_no_small_cells(store: tuple[str, dg.ExecuteInProcessResult]) -> None:
    url, _ = store
    from contracts.store import make_engine

    with make_engine(url).connect() as conn:
        demand = pd.read_sql("select * from daycare_demand_by_district", conn)
    assert "Total" in set(demand["district"])
    for column in ("children_1_to_6", "active_placements", "pending_applications"):
        shown = demand[column].dropna()
        assert not shown.between(1, 4).any()


def test_schema_drift_fails_the_dataset_and_blocks_everything_downstream(
    tmp_path: Path, legacy_drop: Path
) -> None:
    drifted = tmp_path / "legacy"
    shutil.copytree(legacy_drop, drifted)
    register = drifted / "population_register" / "VTJ_OTE.txt"
    data = register.read_bytes()
    register.write_bytes(data.replace(b"POSTINUMERO", b"POSTINRO", 1))
    result = run(f"sqlite:///{tmp_path}/store.db", drifted)
    assert not result.success
    failure = next(e for e in result.get_step_failure_events() if e.step_key == "persons")
    assert "POSTINUMERO" in failure.event_specific_data.error.message  # type: ignore[union-attr]
    done = materialized(result)
    assert not {"persons", "households", "ece_placements", "families_moving_in"} & done


def test_a_failing_blocking_check_stops_downstream_assets(tmp_path: Path) -> None:
    from orchestration.legacy import generate_legacy

    generate_legacy(tmp_path / "legacy", people=400, seed=3, defect_rate=0.4)
    result = run(f"sqlite:///{tmp_path}/store.db", tmp_path / "legacy")
    failed = {e.check_name for e in result.get_asset_check_evaluations() if not e.passed}
    assert "quarantine_rate" in failed
    assert "families_moving_in" not in materialized(result)


def test_readers_yield_every_source_row_once(legacy_drop: Path) -> None:
    for system in SYSTEM_DATASETS:
        refs = pd.concat(chunk["_source_ref"] for chunk in READERS[system](legacy_drop, 500))
        assert refs.is_unique and len(refs) == count_source_rows(legacy_drop)[system]
