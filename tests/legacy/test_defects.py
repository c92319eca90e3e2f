"""Injected defects are recorded, visible in the reader output, and clean rows are clean."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from orchestration.legacy import InjectedDefect, load_manifest

from .conftest import read_all
from .support import AS_OF, DEFECT_RATE, hetu_is_valid, is_iso_date

VALID_CODES = {
    "016", "081", "091", "098", "111", "142", "316", "398", "560", "576", "781", "049", "092",
    "837", "853", "564", "179", "286", "109", "505", "297", "638", "245", "186", "106", "694",
    "444", "609", "167", "405", "285", "491", "905", "743", "698", "211", "536", "734",
}  # fmt: skip
ID_COLUMN = {
    "population_register": "person_id",
    "early_childhood_education": "child_id",
    "school_enrolment": "pupil_id",
    "family_services": "client_id",
}
KEY_COLUMN = {
    "population_register": "person_id",
    "early_childhood_education": "placement_id",
    "school_enrolment": "enrolment_id",
    "family_services": "case_id",
}
CHECKS = {
    "population_register": {
        "henkilotunnus", "valid_date", "municipality_code", "unique_key", "no_mojibake",
        "not_nullable",
    },
    "early_childhood_education": {
        "henkilotunnus", "valid_date", "unique_key", "not_nullable", "references", "non_negative",
    },
    "school_enrolment": {
        "henkilotunnus", "valid_date", "unique_key", "no_mojibake", "not_nullable", "references",
    },
    "family_services": {
        "henkilotunnus", "valid_date", "municipality_code", "unique_key", "not_nullable",
        "references", "non_negative",
    },
}  # fmt: skip
DATE_COLUMNS = {
    "population_register": ["birth_date", "move_in_date"],
    "early_childhood_education": ["application_date", "start_date", "end_date"],
    "school_enrolment": ["start_date"],
    "family_services": ["opened_date", "closed_date"],
}


@pytest.fixture(scope="module")
def heavy_tables(heavy_drop: Path) -> dict[str, pd.DataFrame]:
    """Every system of the defect-heavy drop."""
    return read_all(heavy_drop)


def _register_ids(tables: dict[str, pd.DataFrame], manifest: list[InjectedDefect]) -> set[str]:
    defective = {d.source_ref for d in manifest if d.system == "population_register"}
    register = tables["population_register"]
    return set(register.loc[~register["_source_ref"].isin(defective), "person_id"])


def _shows_defect(
    defect: InjectedDefect, row: pd.Series, frame: pd.DataFrame, ids: set[str]
) -> bool:
    value = row[defect.column]
    check = defect.expected_check
    if check == "henkilotunnus":
        return not hetu_is_valid(value)
    if check == "valid_date":
        return value is not None and not is_iso_date(value)
    if check == "municipality_code":
        return value not in VALID_CODES and value is not None
    if check == "no_mojibake":
        return "Ã" in value
    if check == "not_nullable":
        return value is None
    if check == "references":
        return hetu_is_valid(value) and value not in ids
    if check == "non_negative":
        return float(value) < 0
    # unique_key: an exact copy of an earlier row with the same key
    same = frame[frame[defect.column] == value].drop(columns="_source_ref")
    return bool(row.name != same.index[0] and same.drop_duplicates().shape[0] == 1)


@pytest.mark.parametrize("which", ["drop_dir", "heavy_drop"])
def test_every_manifest_entry_is_visible_in_the_reader_output(
    request: pytest.FixtureRequest, which: str
) -> None:
    legacy_dir: Path = request.getfixturevalue(which)
    tables = read_all(legacy_dir)
    manifest = load_manifest(legacy_dir)
    ids = _register_ids(tables, manifest)
    assert manifest
    positions = {
        system: {ref: i for i, ref in enumerate(frame["_source_ref"])}
        for system, frame in tables.items()
    }
    for defect in manifest:
        frame = tables[defect.system]
        assert defect.source_ref in positions[defect.system], defect
        row = frame.iloc[positions[defect.system][defect.source_ref]]
        assert row[defect.column] == defect.value or (row[defect.column] is defect.value), defect
        assert _shows_defect(defect, row, frame, ids), defect
    refs = [(d.system, d.source_ref) for d in manifest]
    assert len(refs) == len(set(refs))  # at most one defect per row


def test_every_kind_of_defect_is_injected_where_documented(heavy_drop: Path) -> None:
    found: dict[str, set[str]] = {}
    for defect in load_manifest(heavy_drop):
        found.setdefault(defect.system, set()).add(defect.expected_check)
    assert found == CHECKS


def test_realised_defect_rate_follows_the_argument(drop_dir: Path) -> None:
    manifest = load_manifest(drop_dir)
    counts = Counter(d.system for d in manifest)
    rows = len(read_all(drop_dir)["population_register"])
    assert abs(counts["population_register"] / rows - DEFECT_RATE) < 0.03


def test_population_defects_never_hit_people_other_systems_refer_to(
    drop_dir: Path, tables: dict[str, pd.DataFrame]
) -> None:
    manifest = load_manifest(drop_dir)
    defective = {d.source_ref for d in manifest if d.system == "population_register"}
    register = tables["population_register"]
    hit = register.loc[register["_source_ref"].isin(defective), "person_id"].dropna()
    referenced = set()
    for system in ("early_childhood_education", "school_enrolment", "family_services"):
        referenced |= {v[:10] for v in tables[system][ID_COLUMN[system]].dropna()}
    assert referenced
    assert not {v[:10] for v in hit} & referenced


@pytest.mark.parametrize("system", list(ID_COLUMN))
def test_clean_rows_pass_every_rule(
    drop_dir: Path, tables: dict[str, pd.DataFrame], system: str
) -> None:
    manifest = load_manifest(drop_dir)
    defective = {d.source_ref for d in manifest if d.system == system}
    frame = tables[system]
    clean = frame[~frame["_source_ref"].isin(defective)]
    ids = clean[ID_COLUMN[system]]
    assert ids.map(hetu_is_valid).all()
    assert clean[KEY_COLUMN[system]].is_unique
    if system != "population_register":
        assert set(ids) <= _register_ids(tables, manifest)
    for column in DATE_COLUMNS[system]:
        assert clean[column].dropna().map(is_iso_date).all(), column
    text = clean.drop(columns="_source_ref").astype(str)
    assert not text.apply(lambda col: col.str.contains("Ã")).any().any()
    for column in ("municipality_code", "previous_municipality_code"):
        if column in clean:
            assert set(clean[column].dropna()) <= VALID_CODES
    _check_system_rules(system, clean)


def _check_system_rules(system: str, clean: pd.DataFrame) -> None:
    if system == "population_register":
        assert clean["postal_code"].str.fullmatch(r"\d{5}").all()
        assert (clean["birth_date"] < AS_OF.isoformat()).all()
        moved = clean.dropna(subset=["move_in_date"])
        assert (moved["move_in_date"] >= moved["birth_date"]).all()
        assert clean[["last_name", "first_names", "dwelling_id"]].notna().all().all()
    elif system == "early_childhood_education":
        assert clean[["unit_code", "unit_name", "application_date"]].notna().all().all()
        fees = clean["monthly_fee_eur"].dropna().astype(float)
        assert (fees >= 0).all()
        started = clean.dropna(subset=["start_date"])
        assert (started["start_date"] >= started["application_date"]).all()
        ended = clean.dropna(subset=["end_date"])
        assert (ended["end_date"] >= ended["start_date"]).all()
    elif system == "school_enrolment":
        assert clean[["school_code", "school_name", "start_date"]].notna().all().all()
        assert set(clean["grade"]) <= {str(g) for g in range(10)}
    else:
        assert clean[["case_type", "opened_date", "unit"]].notna().all().all()
        assert (clean["support_eur"].dropna().astype(float) >= 0).all()
        closed = clean.dropna(subset=["closed_date"])
        assert (closed["closed_date"] >= closed["opened_date"]).all()
