"""Contract validation of the persons extract against the same rules hand-written in pandas."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.harness import Result, paired_medians
from contracts.reference import lahti_districts, municipalities
from contracts.registry import get_contract
from contracts.validation import ContractValidator
from orchestration.legacy import READERS

_HETU = r"^\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]$"
_CHECK_CHARS = dict(enumerate("0123456789ABCDEFHJKLMNPRSTUVWXY"))
_CENTURY = {"+": 1800, **dict.fromkeys("-YXWVU", 1900), **dict.fromkeys("ABCDEF", 2000)}
_MOJIBAKE = r"Ã[\x80-\xbf¤¶¥©„–…€]|Â[\x80-\xbf]|â€"
_LOW, _HIGH = pd.Timestamp("1900-01-01"), pd.Timestamp("2099-12-31")
TEXT = ("person_id", "last_name", "first_names", "sex", "municipality_code", "street_address")
TEXT_REQUIRED = (*TEXT, "postal_code", "dwelling_id")


def persons_rows(legacy_dir: Path, rows: int) -> pd.DataFrame:
    """The first `rows` canonical rows of the population register extract."""
    frames, total = [], 0
    for frame in READERS["population_register"](legacy_dir, 100_000):
        frames.append(frame)
        total += len(frame)
        if total >= rows:
            break
    return pd.concat(frames, ignore_index=True).iloc[:rows]


def _hetu_ok(codes: pd.Series) -> pd.Series:
    shaped = codes.str.match(_HETU).fillna(False).astype(bool)
    safe = codes.where(shaped, "010100-0020")
    year = safe.str[6].map(_CENTURY) + safe.str[4:6].astype("int64")
    iso = year.astype("str") + "-" + safe.str[2:4] + "-" + safe.str[0:2]
    real = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce").notna()
    number = (safe.str[0:6] + safe.str[7:10]).astype("int64")
    check = (number % 31).map(_CHECK_CHARS) == safe.str[10]
    return shaped & real & (safe.str[7:10].astype("int64") >= 2) & check


def _date(raw: pd.Series, nullable: bool) -> tuple[pd.Series, pd.Series]:
    values = pd.to_datetime(raw, format="%Y-%m-%d", errors="coerce")
    in_range = (values >= _LOW) & (values <= _HIGH)
    return values, (in_range | (raw.isna() & nullable))


def validate_by_hand(raw: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """The persons contract's rules in plain vectorised pandas: valid rows and failed-row mask."""
    codes = set(municipalities())
    ok = pd.Series(True, index=raw.index)
    for name in TEXT_REQUIRED:
        ok &= raw[name].notna()
    ok &= _hetu_ok(raw["person_id"].astype("str"))
    for name in ("last_name", "first_names", "street_address"):
        ok &= ~raw[name].astype("str").str.contains(_MOJIBAKE, regex=True)
    birth, birth_ok = _date(raw["birth_date"], nullable=False)
    moved, moved_ok = _date(raw["move_in_date"], nullable=True)
    ok &= birth_ok & moved_ok
    ok &= raw["sex"].isin(["male", "female"])
    ok &= raw["municipality_code"].isin(codes)
    previous = raw["previous_municipality_code"]
    ok &= previous.isna() | previous.isin(codes)
    postal = raw["postal_code"].astype("str")
    ok &= postal.str.fullmatch(r"\d{5}").fillna(False).astype(bool)
    lengths = raw["dwelling_id"].astype("str").str.len()
    ok &= (lengths >= 10) & (lengths <= 14)
    ok &= ~(raw["person_id"].duplicated() & ok)
    prefixes = postal.str[:3]
    typed = raw.assign(
        birth_date=birth,
        move_in_date=moved,
        district=prefixes.map(lahti_districts()).where(prefixes.isin(lahti_districts())),
    )
    return typed[ok], ~ok


def _compare(name: str, raw: pd.DataFrame, repeat: int, target: str, limit: float) -> Result:
    contract = get_contract("persons")

    def ours() -> object:
        return ContractValidator(contract, {}).validate(raw)

    ours_valid = len(ContractValidator(contract, {}).validate(raw).valid)
    hand_valid = len(validate_by_hand(raw)[0])
    ours_time, hand_time = paired_medians(ours, lambda: validate_by_hand(raw), repeat)
    return Result(
        name,
        f"persons contract, {len(raw):,} population-register rows (~2 % defects); "
        f"median of {repeat}, run alternately; valid rows ours {ours_valid:,}, by hand "
        f"{hand_valid:,}",
        ours_time,
        hand_time,
        "s",
        target,
        limit=limit,
    )


def validation_vs_pandas_1k(legacy_dir: Path, quick: bool) -> Result:
    raw = persons_rows(legacy_dir, 1000)
    return _compare("validation_vs_pandas_1k", raw, 10 if quick else 30, "ratio ≤ 3", 3)


def validation_vs_pandas_1m(legacy_dir: Path, quick: bool) -> Result:
    raw = persons_rows(legacy_dir, 1_000_000)
    return _compare("validation_vs_pandas_1m", raw, 3, "ratio ≤ 1.5", 1.5)
