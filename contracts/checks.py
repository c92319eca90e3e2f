"""Domain checks registered once with pandera: identity codes, municipalities, postal codes, dates.

Each check is vectorised over a whole column, so validating a million rows costs a few array
operations rather than a Python call per value. Contracts use them as
``pa.Field(henkilotunnus=())`` and quarantine rows report the check by its name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandera.api.extensions import register_check_method

from contracts.reference import municipalities

HETU_CHECK_CHARS = "0123456789ABCDEFHJKLMNPRSTUVWXY"
CENTURY_SIGNS = {
    "+": 1800,
    **dict.fromkeys("-YXWVU", 1900),
    **dict.fromkeys("ABCDEF", 2000),
}
_HETU_PATTERN = r"^\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]$"
# UTF-8 bytes of ä, ö, å, é, Ä, Ö, Å read as Latin-1 or cp1252 start with Ã or Â.
_MOJIBAKE_PATTERN = r"Ã[\x80-\xbf¤¶¥©„–…€]|Â[\x80-\xbf]|â€"


def henkilotunnus_valid_text(codes: pd.Series) -> pd.Series:
    """``henkilotunnus_valid`` by string operations, for codes of any length and alphabet."""
    text = codes.astype("str")
    shaped = text.str.match(_HETU_PATTERN).fillna(False).astype(bool)
    safe = text.where(shaped, "010100-0020")
    century = safe.str.slice(6, 7).map(CENTURY_SIGNS).astype("int64")
    year = century + safe.str.slice(4, 6).astype("int64")
    iso = year.astype("str") + "-" + safe.str.slice(2, 4) + "-" + safe.str.slice(0, 2)
    real_date = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce").notna()
    individual = safe.str.slice(7, 10).astype("int64")
    number = (safe.str.slice(0, 6) + safe.str.slice(7, 10)).astype("int64")
    expected = (number % 31).map(dict(enumerate(HETU_CHECK_CHARS)))
    check_ok = expected == safe.str.slice(10, 11)
    return shaped & real_date & (individual >= 2) & check_ok


def _lookup(table: dict[str, int]) -> np.ndarray:
    codes = np.full(128, -1, dtype="int64")
    for char, value in table.items():
        codes[ord(char)] = value
    return codes


_DIGIT = _lookup({str(d): d for d in range(10)})
_CENTURY = _lookup(CENTURY_SIGNS)
_CHECK_CHAR = _lookup({char: i for i, char in enumerate(HETU_CHECK_CHARS)})
_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
_DIGIT_POSITIONS = [0, 1, 2, 3, 4, 5, 7, 8, 9]


def _valid_ascii_codes(chars: np.ndarray) -> np.ndarray:
    """``henkilotunnus_valid`` for rows of 11 ASCII code points each, as array arithmetic."""
    digit = _DIGIT[chars]
    digits_ok = (digit[:, _DIGIT_POSITIONS] >= 0).all(axis=1)
    century, check = _CENTURY[chars[:, 6]], _CHECK_CHAR[chars[:, 10]]
    day, month = digit[:, 0] * 10 + digit[:, 1], digit[:, 2] * 10 + digit[:, 3]
    year = century + digit[:, 4] * 10 + digit[:, 5]
    individual = digit[:, 7] * 100 + digit[:, 8] * 10 + digit[:, 9]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    in_month = _DAYS_IN_MONTH[np.clip(month, 0, 12)] + (leap & (month == 2))
    real_date = (month >= 1) & (month <= 12) & (day >= 1) & (day <= in_month)
    number = (day * 10_000 + month * 100 + year % 100) * 1000 + individual
    valid: np.ndarray = (
        digits_ok
        & (century >= 0)
        & (check >= 0)
        & real_date
        & (individual >= 2)
        & (number % 31 == check)
    )
    return valid


def henkilotunnus_valid(codes: pd.Series) -> pd.Series:
    """True where a code is a well-formed henkilötunnus: real birth date, valid century sign,
    individual number 002–999 and the right check character.

    Codes of exactly eleven ASCII characters (nearly all of them) are checked as arrays of
    code points; any other value goes through ``henkilotunnus_valid_text``, which the fast
    path must agree with."""
    text = codes.astype("str")
    values = text.to_numpy(dtype=object, na_value="")
    plain = np.fromiter(map(len, values), dtype="int64", count=len(values)) == 11
    joined = "".join(values[plain]).encode("utf-32-le", errors="surrogatepass")
    points = np.frombuffer(joined, dtype=np.uint32).reshape(-1, 11)
    ascii_ = (points < 128).all(axis=1)
    plain[plain] = ascii_
    valid = np.zeros(len(text), dtype=bool)
    valid[plain] = _valid_ascii_codes(points[ascii_])
    other = ~plain & (values != "")
    if other.any():
        valid[other] = henkilotunnus_valid_text(text[other]).to_numpy(dtype=bool)
    return pd.Series(valid, index=codes.index)


def henkilotunnus_check_char(nine_digits: str) -> str:
    """The check character for the nine digits DDMMYYZZZ of a henkilötunnus."""
    return HETU_CHECK_CHARS[int(nine_digits) % 31]


@register_check_method(supported_types=pd.Series)
def henkilotunnus(series: pd.Series) -> pd.Series:
    """Finnish personal identity code: century sign, birth date and check character."""
    return henkilotunnus_valid(series)


@register_check_method(supported_types=pd.Series)
def municipality_code(series: pd.Series) -> pd.Series:
    """A current Statistics Finland municipality code (merged municipalities' codes fail)."""
    return series.isin(municipalities().keys())


@register_check_method(supported_types=pd.Series)
def postal_code(series: pd.Series) -> pd.Series:
    """A Finnish postal code: exactly five digits."""
    return series.astype("str").str.fullmatch(r"\d{5}").fillna(False).astype(bool)


@register_check_method(supported_types=pd.Series)
def no_mojibake(series: pd.Series) -> pd.Series:
    """Text that was not decoded with the wrong character set (``MÃ¤kinen`` for ``Mäkinen``)."""
    return ~series.astype("str").str.contains(_MOJIBAKE_PATTERN, regex=True).fillna(False)


@register_check_method(supported_types=pd.Series)
def non_negative(series: pd.Series) -> pd.Series:
    """An amount that is zero or more (fees, benefits)."""
    return series >= 0


@register_check_method(statistics=["min_value", "max_value"], supported_types=pd.Series)
def date_between(series: pd.Series, *, min_value: str, max_value: str) -> pd.Series:
    """A date inside a plausible range, inclusive (ISO dates)."""
    return (series >= pd.Timestamp(min_value)) & (series <= pd.Timestamp(max_value))
