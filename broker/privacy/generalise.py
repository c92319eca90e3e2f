"""Generalisation rules that coarsen quasi-identifiers: dates to years or months, postal codes
to Lahti districts, birth dates to age bands."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date
from typing import Final

import numpy as np
import pandas as pd

from contracts.reference import district_from_postal_code

# (label, youngest age in completed years); each band runs up to the next band's start.
AGE_BANDS: Final = (("0-2", 0), ("3-6", 3), ("7-12", 7), ("13-17", 13), ("18-64", 18), ("65+", 65))
RULES: Final = ("year", "month", "district", "age_band")


def _named(result: pd.Series, source: pd.Series) -> pd.Series:
    """The result carrying the source column's name, as a released column must."""
    result.name = source.name
    return result


def _dates(values: pd.Series) -> pd.Series:
    """The values as datetimes; a present value that is not a date is an error, not a gap."""
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values
    dates = pd.to_datetime(values, errors="coerce", format="ISO8601")
    unreadable = dates.isna() & values.notna()
    if unreadable.any():
        example = values[unreadable].iloc[0]
        raise ValueError(f"column {values.name!r} holds a value that is not a date: {example!r}")
    return dates


def to_year(values: pd.Series) -> pd.Series:
    """Dates to their year (nullable integer)."""
    years: pd.Series = _dates(values).dt.year.astype("Int64")
    return years


def to_month(values: pd.Series) -> pd.Series:
    """Dates to their month as "YYYY-MM" text."""
    dates = _dates(values)
    # Few distinct months in any extract: format each once rather than once per row.
    codes, months = pd.factorize(dates.dt.to_period("M"), use_na_sentinel=True)
    labels = np.append(months.strftime("%Y-%m").to_numpy(dtype=object), np.nan)
    return pd.Series(labels[codes], index=values.index, name=values.name, dtype="str")


def to_district(values: pd.Series) -> pd.Series:
    """Postal codes to Lahti service districts; codes outside Lahti become missing."""
    return _named(district_from_postal_code(values), values)


def age_in_years(birth_dates: pd.Series, as_of: date) -> pd.Series:
    """Completed years of age on ``as_of`` (nullable integer).

    As in the Finnish reckoning of time (Act 150/1930, section 3: a period whose end day does
    not exist in the end month ends on that month's last day), someone born on 29 February
    turns a year older on 28 February in common years.
    """
    dates = _dates(birth_dates)
    month, day = dates.dt.month, dates.dt.day
    if not calendar.isleap(as_of.year):
        day = day.mask((month == 2) & (day == 29), 28)
    before_birthday = (month > as_of.month) | ((month == as_of.month) & (day > as_of.day))
    ages: pd.Series = (as_of.year - dates.dt.year - before_birthday.astype("Int64")).astype("Int64")
    return ages


def to_age_band(birth_dates: pd.Series, as_of: date) -> pd.Series:
    """Birth dates to age bands on ``as_of``; a birth date after ``as_of`` has no band."""
    ages = age_in_years(birth_dates, as_of)
    starts = [start for _, start in AGE_BANDS] + [np.inf]
    labels = [label for label, _ in AGE_BANDS]
    bands = pd.cut(ages.astype("float64"), bins=starts, right=False, labels=labels)
    labelled: pd.Series = bands.astype("str").where(bands.notna())
    return _named(labelled, birth_dates)


def generalise(values: pd.Series, rule: str, *, as_of: date | None = None) -> pd.Series:
    """Apply the named generalisation rule to a column; an unknown rule is a ValueError."""
    simple: dict[str, Callable[[pd.Series], pd.Series]] = {
        "year": to_year,
        "month": to_month,
        "district": to_district,
    }
    if rule in simple:
        return simple[rule](values)
    if rule == "age_band":
        if as_of is None:
            raise ValueError("the age_band rule needs the date ages are counted on (as_of)")
        return to_age_band(values, as_of)
    raise ValueError(f"unknown generalisation rule {rule!r}; known rules: {', '.join(RULES)}")
