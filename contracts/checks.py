"""Domain checks registered once with pandera: identity codes, municipalities, postal codes, dates.

Each check is vectorised over a whole column, so validating a million rows costs a few array
operations rather than a Python call per value. Contracts use them as
``pa.Field(henkilotunnus=())`` and quarantine rows report the check by its name.
"""

from __future__ import annotations

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


def henkilotunnus_valid(codes: pd.Series) -> pd.Series:
    """True where a code is a well-formed henkilötunnus: real birth date, valid century sign,
    individual number 002–999 and the right check character."""
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
