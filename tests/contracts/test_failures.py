"""The column-by-column schema failures are exactly the failures pandera's own validation finds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contracts.base import Contract
from contracts.errors import ContractError
from contracts.failures import Failures, pandera_failures, schema_failures, vectorised_failures
from contracts.registry import get_contract
from contracts.store import SOURCE_REF
from contracts.validation import ContractValidator
from orchestration.assets.sources import SOURCE_DATASETS

TEXT = [
    "131052-308T",
    "131052-308U",
    "020216A955U",
    "Mäkinen",
    "MÃ¤kinen",
    "Hämeenkatu 12 A 3",
    "398",
    "532",
    "999",
    "15110",
    "1511",
    "male",
    "9",
    "1034567890A003",
    "",
]
DATES = ["1899-12-31", "1900-01-01", "2025-06-01", "2099-12-31", "2100-01-01"]
DTYPES = {"string": "str", "integer": "Int64", "number": "float64", "boolean": "boolean"}


def _allowed_values(contract: Contract) -> list[str]:
    """Values some check of the contract accepts (``isin`` lists), so rows also pass checks."""
    values: list[str] = []
    for column in contract.schema.columns.values():
        for check in column.checks:
            for statistic in (check.statistics or {}).values():
                if isinstance(statistic, list | tuple | set | frozenset):
                    values += [str(value) for value in statistic]
    return values


def _cells(contract: Contract, dtype: str) -> st.SearchStrategy[Any]:
    if dtype == "date":
        return st.sampled_from([pd.NaT, *map(pd.Timestamp, DATES)])
    if dtype == "integer":
        return st.sampled_from([None, -1, 0, 35])
    if dtype == "number":
        return st.sampled_from([np.nan, -5.0, 0.0, 311.0])
    if dtype == "boolean":
        return st.sampled_from([None, True, False])
    return st.one_of(
        st.none(), st.sampled_from(TEXT + _allowed_values(contract)), st.text(max_size=16)
    )


@st.composite
def typed_frames(draw: st.DrawFn, contract: Contract) -> pd.DataFrame:
    """A typed chunk as validation builds it, every cell good, bad or missing at random."""
    rows = draw(st.integers(min_value=0, max_value=25))
    columns = {}
    for spec in contract.fields:
        cells = draw(st.lists(_cells(contract, spec.dtype), min_size=rows, max_size=rows))
        if spec.dtype == "date":
            columns[spec.name] = pd.Series(pd.to_datetime(cells), dtype="datetime64[us]")
        else:
            columns[spec.name] = pd.Series(cells, dtype=DTYPES[spec.dtype])
    return pd.DataFrame(columns)


def _listed(failures: Failures) -> list[tuple[Any, ...]]:
    def cell(value: Any) -> Any:
        return None if value is None or (np.ndim(value) == 0 and pd.isna(value)) else value

    return [
        (int(row), str(check), str(column), cell(value))
        for row, check, column, value in zip(
            failures.rows, failures.checks, failures.columns, failures.values, strict=True
        )
    ]


@pytest.mark.parametrize("name", SOURCE_DATASETS)
@settings(max_examples=20, deadline=None)
@given(data=st.data())
def test_column_checks_find_exactly_what_pandera_finds(name: str, data: st.DataObject) -> None:
    contract = get_contract(name)
    frame = data.draw(typed_frames(contract))
    fast = vectorised_failures(contract.schema, frame)
    assert fast is not None, "the contracts use nothing the column checks leave to pandera"
    assert _listed(fast) == _listed(pandera_failures(contract.schema, frame, name))


def test_a_column_of_the_wrong_type_is_left_to_pandera_and_fails_as_a_whole() -> None:
    contract = get_contract("persons")
    frame = pd.DataFrame({spec.name: pd.Series(["x"], dtype="str") for spec in contract.fields})
    frame["birth_date"] = [19521013]
    assert vectorised_failures(contract.schema, frame) is None
    with pytest.raises(ContractError, match="birth_date.*as a whole"):
        schema_failures(contract.schema, frame, "persons")


def test_a_row_with_several_failures_leads_with_the_first_in_schema_order() -> None:
    row = {
        "person_id": "131052-308U",
        "last_name": "MÃ¤kinen",
        "first_names": "Aino",
        "birth_date": "1952-10-13",
        "sex": "female",
        "municipality_code": "398",
        "street_address": "Hämeenkatu 12 A 3",
        "postal_code": "15110",
        "move_in_date": None,
        "previous_municipality_code": None,
        "dwelling_id": "1034567890A003",
        SOURCE_REF: "line 2",
    }
    [record] = (
        ContractValidator(get_contract("persons"))
        .validate(pd.DataFrame([row], dtype=object))
        .rejected
    )
    assert record["check_name"] == "henkilotunnus"
    assert [f["check"] for f in record["failures"]] == ["henkilotunnus", "no_mojibake"]
