"""Independent helpers for the legacy tests (not shared with the code under test)."""

from __future__ import annotations

import datetime as dt

AS_OF = dt.date(2025, 3, 14)
DEFECT_RATE = 0.15
_CHECK = "0123456789ABCDEFHJKLMNPRSTUVWXY"
_CENTURY_SIGNS = set("+-YXWVUABCDEF")


def hetu_is_valid(code: object) -> bool:
    """Check a henkilötunnus the way DVV documents it: DDMMYY, century sign, ZZZ, check char."""
    if not isinstance(code, str) or len(code) != 11 or code[6] not in _CENTURY_SIGNS:
        return False
    digits = code[:6] + code[7:10]
    if not digits.isdigit() or not 2 <= int(code[7:10]) <= 899:
        return False
    return _CHECK[int(digits) % 31] == code[10]


def is_iso_date(value: object) -> bool:
    """True when value is a real calendar date written YYYY-MM-DD."""
    if not isinstance(value, str) or len(value) != 10:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True
