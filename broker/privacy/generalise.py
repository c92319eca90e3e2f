"""Generalisation rules that coarsen quasi-identifiers: dates to years or months, postal codes
to Lahti districts, birth dates to age bands.

Rules work on a column's values as a list (a share page holds at most 10,000 rows, a stream
chunk 5,000): one pass of plain Python per value costs less there than a vectorised library's
fixed cost per call. A missing value (None, or a float NaN) stays missing.
"""

from __future__ import annotations

import calendar
import math
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any, Final

from contracts.reference import lahti_districts

# (label, youngest age in completed years); each band runs up to the next band's start.
AGE_BANDS: Final = (("0-2", 0), ("3-6", 3), ("7-12", 7), ("13-17", 13), ("18-64", 18), ("65+", 65))
RULES: Final = ("year", "month", "district", "age_band")


def is_missing(value: Any) -> bool:
    """None, or a float NaN (how a numeric column marks a gap)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _date(value: Any, column: str) -> date | None:
    if is_missing(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).date()
        except ValueError:
            pass
    raise ValueError(f"column {column!r} holds a value that is not a date: {value!r}")


def _dates(values: Iterable[Any], column: str) -> list[date | None]:
    """The values as dates; a present value that is not a date is an error, not a gap."""
    # Dates read from the store are date objects already: the common case is one type check.
    return [value if type(value) is date else _date(value, column) for value in values]


def to_year(values: Iterable[Any], column: str = "") -> list[int | None]:
    """Dates to their year."""
    return [None if day is None else day.year for day in _dates(values, column)]


def to_month(values: Iterable[Any], column: str = "") -> list[str | None]:
    """Dates to their month as "YYYY-MM" text."""
    return [
        None if day is None else f"{day.year:04d}-{day.month:02d}" for day in _dates(values, column)
    ]


def to_district(values: Iterable[Any], column: str = "") -> list[str | None]:
    """Postal codes to Lahti service districts; codes outside Lahti become missing."""
    districts = lahti_districts()
    return [None if is_missing(code) else districts.get(str(code)[:3]) for code in values]


def _age(born: date, as_of: date) -> int:
    month, day = born.month, born.day
    if month == 2 and day == 29 and not calendar.isleap(as_of.year):
        day = 28
    before_birthday = (month, day) > (as_of.month, as_of.day)
    return as_of.year - born.year - before_birthday


def age_in_years(birth_dates: Iterable[Any], as_of: date, column: str = "") -> list[int | None]:
    """Completed years of age on ``as_of``.

    As in the Finnish reckoning of time (Act 150/1930, section 3: a period whose end day does
    not exist in the end month ends on that month's last day), someone born on 29 February
    turns a year older on 28 February in common years.
    """
    return [None if born is None else _age(born, as_of) for born in _dates(birth_dates, column)]


def _band(age: int | None) -> str | None:
    if age is None or age < 0:
        return None
    label = None
    for name, start in AGE_BANDS:
        if age >= start:
            label = name
    return label


def to_age_band(birth_dates: Iterable[Any], as_of: date, column: str = "") -> list[str | None]:
    """Birth dates to age bands on ``as_of``; a birth date after ``as_of`` has no band."""
    return [_band(age) for age in age_in_years(birth_dates, as_of, column)]


def generalise(
    values: Sequence[Any], rule: str, *, as_of: date | None = None, column: str = ""
) -> list[Any]:
    """Apply the named generalisation rule to a column; an unknown rule is a ValueError."""
    simple: dict[str, Callable[[Iterable[Any], str], list[Any]]] = {
        "year": to_year,
        "month": to_month,
        "district": to_district,
    }
    if rule in simple:
        return simple[rule](values, column)
    if rule == "age_band":
        if as_of is None:
            raise ValueError("the age_band rule needs the date ages are counted on (as_of)")
        return to_age_band(values, as_of, column)
    raise ValueError(f"unknown generalisation rule {rule!r}; known rules: {', '.join(RULES)}")
