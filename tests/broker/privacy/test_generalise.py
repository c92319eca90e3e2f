"""Generalisation rules: years, months, districts and age bands, including the edge days."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from broker.privacy import generalise
from broker.privacy.generalise import age_in_years

AS_OF = date(2026, 3, 2)


def test_year_and_month() -> None:
    dates = ["2024-02-29", None, "2025-12-31"]
    assert generalise(dates, "year") == [2024, None, 2025]
    assert generalise(dates, "month") == ["2024-02", None, "2025-12"]


def test_python_dates_and_times_are_accepted() -> None:
    assert generalise([date(2019, 8, 1), datetime(2020, 1, 2, 3, 4)], "year") == [2019, 2020]
    assert generalise([float("nan")], "month") == [None], "a numeric gap is missing too"


def test_postal_code_to_district() -> None:
    districts = generalise(["15100", "15500", "17200", None], "district")
    assert districts == ["Keskusta", "Nastola", None, None], "outside Lahti there is no district"


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
    assert generalise([birth], "age_band", as_of=AS_OF) == [band]
    assert generalise([date.fromisoformat(birth)], "age_band", as_of=AS_OF) == [band]


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
    assert age_in_years(["2020-02-29"], as_of) == [age]


def test_a_29_february_child_enters_the_next_band_on_28_february() -> None:
    births = ["2020-02-29", "2020-02-29"]
    assert generalise(births, "age_band", as_of=date(2023, 2, 27)) == ["0-2", "0-2"]
    assert generalise(births, "age_band", as_of=date(2023, 2, 28)) == ["3-6", "3-6"]


def test_missing_and_future_birth_dates_get_no_band() -> None:
    assert generalise([None, "2026-03-03"], "age_band", as_of=AS_OF) == [None, None]


def test_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="'decade'"):
        generalise(["2020-01-01"], "decade")
    with pytest.raises(ValueError, match="as_of"):
        generalise(["2020-01-01"], "age_band")
    with pytest.raises(ValueError, match="'birth_date' holds a value that is not a date"):
        generalise(["2020-01-01", "31.02.2020"], "year", column="birth_date")
