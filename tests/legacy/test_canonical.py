"""Conversions from legacy raw text to canonical text never fix bad data."""

from __future__ import annotations

import pytest

from orchestration.legacy.canonical import (
    cents_to_euros,
    clean_text,
    compact_date,
    decimal_comma,
    dmy_date,
    iso_date,
    label,
    mojibake,
)


@pytest.mark.parametrize(
    ("convert", "raw", "expected"),
    [
        (compact_date, "20240229", "2024-02-29"),
        (compact_date, "20230230", "20230230"),
        (compact_date, "        ", None),
        (dmy_date, "1.2.2023", "2023-02-01"),
        (dmy_date, "01.02.2023", "2023-02-01"),
        (dmy_date, "31.02.2021", "31.02.2021"),
        (dmy_date, "1.2.23", "1.2.23"),
        (iso_date, "2021-13-01", "2021-13-01"),
        (iso_date, "2024-08-08", "2024-08-08"),
    ],
)
def test_dates_convert_or_pass_through_raw(convert: object, raw: str, expected: str | None) -> None:
    assert callable(convert)
    assert convert(raw) == expected


def test_amounts_codes_and_text() -> None:
    assert cents_to_euros(12345) == "123.45"
    assert cents_to_euros(-5) == "-0.05"
    assert cents_to_euros(None) is None
    assert decimal_comma("1234,50") == "1234.50"
    assert label("2", {"2": "active"}) == "active"
    assert label(7, {"2": "active"}) == "7"
    assert clean_text("  Lahti  ") == "Lahti"
    assert clean_text("   ") is None
    assert mojibake("Mäkinen") == "MÃ¤kinen"
