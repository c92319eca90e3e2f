"""Readers yield canonical columns, every source row exactly once, in chunks of any size."""

from __future__ import annotations

import re
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from orchestration.legacy import CANONICAL_COLUMNS, READERS, SYSTEMS

EXPECTED_COLUMNS = {
    "population_register": [
        "person_id", "last_name", "first_names", "birth_date", "sex", "municipality_code",
        "street_address", "postal_code", "move_in_date", "previous_municipality_code",
        "dwelling_id",
    ],
    "early_childhood_education": [
        "placement_id", "child_id", "unit_code", "unit_name", "application_date", "start_date",
        "end_date", "hours_per_week", "monthly_fee_eur", "status",
    ],
    "school_enrolment": [
        "enrolment_id", "pupil_id", "school_code", "school_name", "grade", "start_date",
        "language", "support_level",
    ],
    "family_services": [
        "case_id", "client_id", "case_type", "opened_date", "closed_date",
        "previous_municipality_code", "unit", "support_eur",
    ],
}  # fmt: skip


def raw_row_counts(legacy_dir: Path) -> dict[str, int]:
    """Count source rows with no help from the readers."""
    vtj = (legacy_dir / "population_register/VTJ_OTE.txt").read_bytes()
    xml = (legacy_dir / "school_enrolment/ilmoittautumiset.xml").read_text(encoding="utf-8")
    csv = (legacy_dir / "family_services/perhepalvelut.csv").read_bytes()
    db_path = legacy_dir / "early_childhood_education/varhaiskasvatus.db"
    with closing(sqlite3.connect(db_path)) as db:
        (placements,) = db.execute("SELECT COUNT(*) FROM LPS_SIJ").fetchone()
    return {
        "population_register": vtj.count(b"\n") - 1,
        "early_childhood_education": placements,
        "school_enrolment": len(re.findall(r"<oppilas\b", xml)),
        "family_services": csv.count(b"\r\n") - 1,
    }


@pytest.mark.parametrize("system", SYSTEMS)
def test_columns_are_canonical_object_text(tables: dict[str, pd.DataFrame], system: str) -> None:
    frame = tables[system]
    assert list(frame.columns) == [*EXPECTED_COLUMNS[system], "_source_ref"]
    assert list(CANONICAL_COLUMNS[system]) == EXPECTED_COLUMNS[system]
    assert all(dtype == np.dtype(object) for dtype in frame.dtypes)
    values = frame.to_numpy().ravel()
    assert all(v is None or (isinstance(v, str) and v == v.strip() and v) for v in values)


def test_one_row_per_source_row(drop_dir: Path, tables: dict[str, pd.DataFrame]) -> None:
    counts = raw_row_counts(drop_dir)
    for system in SYSTEMS:
        frame = tables[system]
        assert len(frame) == counts[system], system
        assert frame["_source_ref"].is_unique, system


def test_source_refs_point_at_physical_rows(tables: dict[str, pd.DataFrame]) -> None:
    register = tables["population_register"]["_source_ref"]
    assert list(register) == [f"line {n}" for n in range(2, len(register) + 2)]
    cases = tables["family_services"]["_source_ref"]
    assert list(cases) == [f"line {n}" for n in range(2, len(cases) + 2)]
    refs = tables["early_childhood_education"]["_source_ref"]
    assert refs.str.fullmatch(r"LPS_SIJ\.SIJ_ID=\d+( \(occurrence \d\))?").all()
    refs = tables["school_enrolment"]["_source_ref"]
    assert refs.str.fullmatch(r"oppilas id=E\d{6}( \(occurrence \d\))?").all()


@pytest.mark.parametrize("system", SYSTEMS)
def test_small_chunks_give_the_same_rows(drop_dir: Path, system: str) -> None:
    chunks = list(READERS[system](drop_dir, 7))
    whole = list(READERS[system](drop_dir, 10_000_000))
    assert len(whole) == 1
    assert len(chunks) > 1 and all(len(chunk) <= 7 for chunk in chunks)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole[0])


def test_codes_become_labels(tables: dict[str, pd.DataFrame]) -> None:
    assert set(tables["population_register"]["sex"]) == {"male", "female"}
    statuses = set(tables["early_childhood_education"]["status"])
    assert {"applied", "active"} <= statuses <= {"applied", "active", "ended", "cancelled"}
    assert set(tables["school_enrolment"]["support_level"]) == {"general", "intensified", "special"}
    assert set(tables["school_enrolment"]["language"]) <= {"fi", "sv"}
    assert set(tables["family_services"]["case_type"].dropna()) <= {
        "family_work", "child_welfare_notification", "home_service", "parenting_support",
    }  # fmt: skip
    fees = tables["early_childhood_education"]["monthly_fee_eur"].dropna()
    assert fees.str.fullmatch(r"-?\d+\.\d{2}").all()
    support = tables["family_services"]["support_eur"].dropna()
    assert support.str.fullmatch(r"-?\d+\.\d{2}").all()


def test_an_unknown_status_passes_through_as_raw_text(tmp_path: Path, small_drop: Path) -> None:
    shutil.copytree(small_drop, tmp_path, dirs_exist_ok=True)
    with closing(sqlite3.connect(tmp_path / "early_childhood_education/varhaiskasvatus.db")) as db:
        db.execute("UPDATE LPS_SIJ SET TILA = 7 WHERE rowid = 1")
        db.commit()
    frame = next(READERS["early_childhood_education"](tmp_path, 10))
    assert frame.loc[0, "status"] == "7"
