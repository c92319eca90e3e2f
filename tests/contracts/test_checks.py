"""The domain checks accept real values and reject realistic bad ones."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from contracts.checks import (
    HETU_CHECK_CHARS,
    henkilotunnus_check_char,
    henkilotunnus_valid,
    henkilotunnus_valid_text,
)
from contracts.registry import get_contract


def _valid(values: list[str | None]) -> list[bool]:
    return henkilotunnus_valid(pd.Series(values, dtype="str")).tolist()


@pytest.mark.parametrize(
    ("code", "valid"),
    [
        ("131052-308T", True),  # the population register's published example
        ("010594Y9032", True),  # a 1900s code with one of the new century signs
        ("020216A955U", True),  # born in 2016
        ("020216A9554", False),  # wrong check character
        ("131052-308U", False),  # check character off by one
        ("310295-1234", False),  # 31 February does not exist
        ("131052-001H", False),  # individual numbers start at 002
        ("131052#308T", False),  # unknown century sign
        ("131052-308", False),  # too short
        ("290200A003D", True),  # 2000 was a leap year
        ("290200-003D", False),  # 1900 was not
        ("131052-308T\n", True),  # the pattern's $ allows one trailing newline
        ("", False),
    ],
)
def test_henkilotunnus(code: str, valid: bool) -> None:
    assert _valid([code]) == [valid]


def test_henkilotunnus_missing_is_not_valid() -> None:
    assert _valid([None]) == [False]


@given(
    st.dates(
        min_value=pd.Timestamp("1900-01-01").date(), max_value=pd.Timestamp("2099-12-31").date()
    ),
    st.integers(min_value=2, max_value=899),
)
def test_every_generated_code_validates_and_a_changed_check_char_fails(day, number) -> None:  # type: ignore[no-untyped-def]
    century = "-" if day.year < 2000 else "A"
    digits = f"{day:%d%m%y}{number:03d}"
    check = henkilotunnus_check_char(digits)
    code = f"{day:%d%m%y}{century}{number:03d}{check}"
    wrong = HETU_CHECK_CHARS[(HETU_CHECK_CHARS.index(check) + 1) % len(HETU_CHECK_CHARS)]
    assert _valid([code, code[:-1] + wrong]) == [True, False]


def _check(contract: str, field: str, values: list[object]) -> list[bool]:
    column = get_contract(contract).schema.columns[field]
    frame = pd.DataFrame({field: values})
    results = [check(frame[field]).check_output.tolist() for check in column.checks]
    return [all(row) for row in zip(*results, strict=True)]


def test_municipality_codes_reject_merged_municipalities() -> None:
    # 532 was Nastola and 283 Hämeenkoski until they merged into Lahti and Hollola in 2016.
    assert _check("persons", "municipality_code", ["398", "016", "532", "283", "999"]) == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_postal_codes_are_five_digits() -> None:
    assert _check("persons", "postal_code", ["15100", "17200", "1510", "15100A", "151000"]) == [
        True,
        True,
        False,
        False,
        False,
    ]


def test_mojibake_is_caught_but_real_nordic_letters_pass() -> None:
    assert _check("persons", "last_name", ["Mäkinen", "Åström", "MÃ¤kinen", "HÃ¶glund"]) == [
        True,
        True,
        False,
        False,
    ]


def test_amounts_must_not_be_negative() -> None:
    assert _check("ece_placements", "monthly_fee_eur", [0.0, 311.0, -5.0]) == [True, True, False]


def test_dates_must_be_in_a_plausible_range() -> None:
    dates = pd.to_datetime(["1899-12-31", "1900-01-01", "2025-06-01", "2100-01-01"])
    assert _check("persons", "birth_date", list(dates)) == [False, True, True, False]


def test_array_henkilotunnus_check_agrees_with_the_string_one_on_every_edge() -> None:
    days, months = range(33), range(14)
    years, numbers, signs = (0, 1, 4, 96, 99), (0, 1, 2, 999), "+-AU#"
    codes = []
    for day, month, year, number, sign in itertools.product(days, months, years, numbers, signs):
        digits = f"{day:02d}{month:02d}{year:02d}{number:03d}"
        right = henkilotunnus_check_char(digits)
        wrong = HETU_CHECK_CHARS[(HETU_CHECK_CHARS.index(right) + 1) % 31]
        codes += [f"{digits[:6]}{sign}{digits[6:]}{check}" for check in (right, wrong)]
    series = pd.Series(codes, dtype="str")
    assert henkilotunnus_valid(series).tolist() == henkilotunnus_valid_text(series).tolist()


# Real codes, the same with one character replaced or added, and near-misses: eleven
# characters of the code alphabet, other lengths, non-ASCII digits, a trailing newline.
_HETU_CHARS = "0123456789-+ABCDEFHJKLMNPRSTUVWXY#a\n\x00١٣"
_real_codes = st.builds(
    lambda digits, sign: f"{digits[:6]}{sign}{digits[6:]}{henkilotunnus_check_char(digits)}",
    st.text(alphabet="0123456789", min_size=9, max_size=9),
    st.sampled_from("+-ABCDEFUVWXY"),
)
_codes = st.one_of(
    _real_codes,
    st.builds(
        lambda code, position, char: code[:position] + char + code[position + 1 :],
        _real_codes,
        st.integers(min_value=0, max_value=11),
        st.sampled_from(_HETU_CHARS),
    ),
    st.text(alphabet=_HETU_CHARS, min_size=11, max_size=11),
    st.text(alphabet=_HETU_CHARS, max_size=13),
    st.none(),
)


@given(st.lists(_codes, max_size=40))
def test_array_henkilotunnus_check_agrees_with_the_string_one(codes: list[str | None]) -> None:
    series = pd.Series(codes, dtype="str", index=range(100, 100 + len(codes)))
    fast, text = henkilotunnus_valid(series), henkilotunnus_valid_text(series)
    pd.testing.assert_series_equal(fast, text, check_names=False)
