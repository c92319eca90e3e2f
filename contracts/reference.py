"""Reference code lists the contracts check against: municipalities and Lahti's districts."""

from __future__ import annotations

import csv
from functools import cache
from importlib import resources

import pandas as pd

LAHTI = "398"


def _read_csv(name: str) -> list[dict[str, str]]:
    text = (resources.files("contracts") / "data" / name).read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def municipalities() -> dict[str, str]:
    """Statistics Finland municipality code → Finnish name, for the municipalities Tillit knows."""
    return {row["code"]: row["name_fi"] for row in _read_csv("municipalities.csv")}


@cache
def lahti_districts() -> dict[str, str]:
    """Three-digit postal code prefix → Lahti service district."""
    return {row["postal_prefix"]: row["district"] for row in _read_csv("lahti_districts.csv")}


def district_from_postal_code(postal_codes: pd.Series) -> pd.Series:
    """Generalise postal codes to Lahti service districts; codes outside Lahti become missing."""
    prefixes = postal_codes.astype("str").str.slice(0, 3)
    return prefixes.map(lahti_districts()).astype("str").where(prefixes.isin(lahti_districts()))
