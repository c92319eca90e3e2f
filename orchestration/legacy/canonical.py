"""Conversions from each legacy system's raw text to canonical text, shared by writers and readers.

Readers never fix data: an impossible or unparseable date comes back as its original raw text
so the contract layer can quarantine it, and an unknown code passes through unchanged.
"""

from __future__ import annotations

import re
from datetime import date

_DMY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")


def clean_text(raw: str | None) -> str | None:
    """Strip padding whitespace; empty text becomes None."""
    if raw is None:
        return None
    text = raw.strip()
    return text or None


def _to_iso(text: str, match: re.Match[str] | None, ymd: tuple[int, int, int]) -> str:
    if match is None:
        return text
    year, month, day = (int(match.group(i)) for i in ymd)
    try:
        return date(year, month, day).isoformat()
    except ValueError:
        return text


def compact_date(raw: str | None) -> str | None:
    """YYYYMMDD to YYYY-MM-DD; impossible or unparseable text passes through as it was."""
    text = clean_text(raw)
    return None if text is None else _to_iso(text, _COMPACT.fullmatch(text), (1, 2, 3))


def dmy_date(raw: str | None) -> str | None:
    """D.M.YYYY or DD.MM.YYYY to YYYY-MM-DD; impossible or unparseable text passes through."""
    text = clean_text(raw)
    return None if text is None else _to_iso(text, _DMY.fullmatch(text), (3, 2, 1))


def iso_date(raw: str | None) -> str | None:
    """YYYY-MM-DD stays as it is when it is a real date; anything else passes through."""
    text = clean_text(raw)
    return None if text is None else _to_iso(text, _ISO.fullmatch(text), (1, 2, 3))


def cents_to_euros(raw: int | str | None) -> str | None:
    """Integer cents to euros as text with two decimals ("12345" -> "123.45")."""
    text = clean_text(None if raw is None else str(raw))
    if text is None:
        return None
    try:
        cents = int(text)
    except ValueError:
        return text
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def decimal_comma(raw: str | None) -> str | None:
    """Decimal comma to decimal dot ("1234,50" -> "1234.50")."""
    text = clean_text(raw)
    return None if text is None else text.replace(",", ".")


def label(raw: str | int | None, labels: dict[str, str]) -> str | None:
    """Map a code or magic number to its label; an unknown code passes through as raw text."""
    text = clean_text(None if raw is None else str(raw))
    return None if text is None else labels.get(text, text)


def mojibake(text: str) -> str:
    """Garble text the way a UTF-8 file read as Latin-1 does ("Mäkinen" -> "MÃ¤kinen")."""
    return text.encode("utf-8").decode("latin-1")


def occurrence_ref(base: str, occurrence: int) -> str:
    """Source reference for a keyed row; later copies of the same key say which occurrence."""
    return base if occurrence <= 1 else f"{base} (occurrence {occurrence})"
