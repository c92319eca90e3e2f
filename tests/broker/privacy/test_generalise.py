"""Generalisation rules: years, months, districts and age bands, including the edge days."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from broker.privacy import generalise
from broker.privacy.generalise import age_in_years

AS_OF = date(2026, 3, 2)


def test_year_and_month() -> None:
    dates = pd.Series(["2024-02-29", None, "2025-12-31"], name="move_in_date")
    assert generalise(dates, "year").tolist() == [2024, pd.NA, 2025]
    months = generalise(pd.Series(pd.to_datetime(dates)), "month")
    assert months.iloc[[0, 2]].tolist() == ["2024-02", "2025-12"]
    assert months.isna().tolist() == [False, True, False]
    assert months.name == "move_in_date"


def test_python_dates_are_accepted() -> None:
    assert generalise(pd.Series([date(2019, 8, 1)]), "year").tolist() == [2019]


def test_postal_code_to_district() -> None:
    codes = pd.Series(["15100", "15500", "17200", None], name="postal_code")
    districts = generalise(codes, "district")
    assert districts.iloc[:2].tolist() == ["Keskusta", "Nastola"]
    assert districts.iloc[2:].isna().all(), "outside Lahti there is no district"
    assert districts.name == "postal_code"


@pytest.mark.parametrize(
    ("birth", "band"),
    [
        ("2026-03-02", "0-2"),
        ("2023-03-03", "0-2"),
        ("2023-03-02", "3-6"),
        ("2019-03-03", "3-6"),
        ("2019-03-02", "7-12"),
        ("2013-03-03", "7-12"),
        ("2013-03-02", "13-17"),
        ("2008-03-03", "13-17"),
        ("2008-03-02", "18-64"),
        ("1961-03-03", "18-64"),
        ("1961-03-02", "65+"),
        ("1920-01-01", "65+"),
    ],
)
def test_age_band_edges(birth: str, band: str) -> None:
    assert generalise(pd.Series([birth]), "age_band", as_of=AS_OF).tolist() == [band]


@pytest.mark.parametrize(
    ("as_of", "age"),
    [
        (date(2023, 2, 27), 2),
        (date(2023, 2, 28), 3),  # common year: the birthday is reached on 28 February
        (date(2023, 3, 1), 3),
        (date(2024, 2, 28), 3),  # leap year: not until 29 February
        (date(2024, 2, 29), 4),
    ],
)
def test_a_29_february_birthday(as_of: date, age: int) -> None:
    assert age_in_years(pd.Series(["2020-02-29"]), as_of).tolist() == [age]


def test_a_29_february_child_enters_the_next_band_on_28_february() -> None:
    births = pd.Series(["2020-02-29", "2020-02-29"])
    assert generalise(births, "age_band", as_of=date(2023, 2, 27)).tolist() == ["0-2", "0-2"]
    assert generalise(births, "age_band", as_of=date(2023, 2, 28)).tolist() == ["3-6", "3-6"]


def test_missing_and_future_birth_dates_get_no_band() -> None:
    bands = generalise(pd.Series([None, "2026-03-03"]), "age_band", as_of=AS_OF)
    assert bands.isna().all()


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="'decade'"):
        generalise(pd.Series(["2020-01-01"]), "decade")
    with pytest.raises(ValueError, match="as_of"):
        generalise(pd.Series(["2020-01-01"]), "age_band")
    with pytest.raises(ValueError, match="not a date"):
        generalise(pd.Series(["2020-01-01", "31.02.2020"], name="birth_date"), "year")
