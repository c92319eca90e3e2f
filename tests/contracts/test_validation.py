"""Validation is lazy and complete: every rejected row is explained, nothing is dropped."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest

from contracts.errors import SchemaDriftError
from contracts.registry import get_contract
from contracts.store import SOURCE_REF
from contracts.validation import ContractValidator

GOOD_PERSON = {
    "person_id": "131052-308T",
    "last_name": "Mäkinen",
    "first_names": "Aino Helmi",
    "birth_date": "1952-10-13",
    "sex": "female",
    "municipality_code": "398",
    "street_address": "Hämeenkatu 12 A 3",
    "postal_code": "15110",
    "move_in_date": None,
    "previous_municipality_code": None,
    "dwelling_id": "1034567890A003",
}


def _people(*changes: dict[str, Any]) -> pd.DataFrame:
    rows = [
        {**GOOD_PERSON, **change, SOURCE_REF: f"line {i + 2}"} for i, change in enumerate(changes)
    ]
    return pd.DataFrame(rows, dtype=object)


def test_a_clean_row_is_typed_and_derives_its_district() -> None:
    result = ContractValidator(get_contract("persons")).validate(_people({}))
    assert result.rejected == []
    row = result.valid.iloc[0]
    assert row["birth_date"] == pd.Timestamp("1952-10-13")
    assert row["district"] == "Keskusta"
    assert row[SOURCE_REF] == "line 2"


@pytest.mark.parametrize(
    ("change", "check", "column"),
    [
        ({"person_id": "131052-308U"}, "henkilotunnus", "person_id"),
        ({"birth_date": "2021-02-30"}, "valid_date", "birth_date"),
        ({"municipality_code": "532"}, "municipality_code", "municipality_code"),
        ({"last_name": "MÃ¤kinen"}, "no_mojibake", "last_name"),
        ({"first_names": None}, "not_nullable", "first_names"),
        ({"postal_code": "1511"}, "postal_code", "postal_code"),
        ({"sex": "9"}, "isin", "sex"),
    ],
)
def test_each_defect_is_quarantined_with_its_check(
    change: dict[str, Any], check: str, column: str
) -> None:
    result = ContractValidator(get_contract("persons")).validate(_people({}, change))
    assert len(result.valid) == 1
    [record] = result.rejected
    assert (record["source_ref"], record["check_name"], record["column_name"]) == (
        "line 3",
        check,
        column,
    )
    assert record["raw_record"]["person_id"] == _people({}, change).iloc[1]["person_id"]


def test_duplicates_are_caught_across_chunks_and_the_first_copy_is_kept() -> None:
    validator = ContractValidator(get_contract("persons"))
    first = validator.validate(_people({}))
    second = validator.validate(_people({}))
    assert len(first.valid) == 1 and not first.rejected
    assert [r["check_name"] for r in second.rejected] == ["unique_key"]


def test_orphaned_references_are_quarantined() -> None:
    placement = {
        "placement_id": "77",
        "child_id": "020216A955U",
        "unit_code": "PK12",
        "unit_name": "Päiväkoti Mukkula",
        "application_date": "2025-01-10",
        "start_date": "2025-03-01",
        "end_date": None,
        "hours_per_week": "35",
        "monthly_fee_eur": "311.00",
        "status": "active",
        SOURCE_REF: "LPS_SIJ.SIJ_ID=77",
    }
    frame = pd.DataFrame([placement, {**placement, "placement_id": "78", SOURCE_REF: "x"}])
    known = ContractValidator(get_contract("ece_placements"), {"persons": {"020216A955U"}})
    assert known.validate(frame.iloc[:1]).rejected == []
    orphan = ContractValidator(get_contract("ece_placements"), {"persons": set()})
    assert {r["check_name"] for r in orphan.validate(frame).rejected} == {"references"}


def test_every_row_is_either_valid_or_rejected() -> None:
    frame = _people(
        {}, {"person_id": "bad"}, {"birth_date": "13.10.1952"}, {"person_id": "020216A955U"}
    )
    result = ContractValidator(get_contract("persons")).validate(frame)
    assert len(result.valid) + len(result.rejected) == len(frame)
    assert {r["source_ref"] for r in result.rejected} == {"line 3", "line 4"}


def test_a_missing_or_unexpected_column_is_schema_drift() -> None:
    validator = ContractValidator(get_contract("persons"))
    with pytest.raises(SchemaDriftError, match="'dwelling_id' is missing"):
        validator.validate(_people({}).drop(columns="dwelling_id"))
    with pytest.raises(SchemaDriftError, match="'nickname' is not in the contract"):
        validator.validate(_people({}).assign(nickname="Ainoska"))
