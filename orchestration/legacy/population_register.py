"""Population register extract (DVV, VTJ): fixed-width Latin-1 text, one person per record.

File `population_register/VTJ_OTE.txt`, encoded Latin-1, lines end in `\\n`. The first line is
a header record naming the layout, so a changed layout is detectable before any data is read:

    000TILLIT-VTJ-EXTRACT;v1;<extract date YYYYMMDD>;HETU:11;SUKUNIMI:30;...;ASUNTOTUNNUS:14

Data records are 163 characters, fields left-aligned and padded with spaces:

    source column    start width  canonical field             content
    HETU                 0    11  person_id                   henkilötunnus DDMMYYCZZZQ
    SUKUNIMI            11    30  last_name
    ETUNIMET            41    40  first_names                 space-separated
    SYNTYMAPVM          81     8  birth_date                  YYYYMMDD
    SUKUPUOLI           89     1  sex                         1 = male, 2 = female
    KOTIKUNTA           90     3  municipality_code           Statistics Finland code
    LAHIOSOITE          93    40  street_address
    POSTINUMERO        133     5  postal_code
    MUUTTOPVM          138     8  move_in_date                YYYYMMDD, blank if not known
    EDELLINEN_KUNTA    146     3  previous_municipality_code  blank unless moved from elsewhere
    ASUNTOTUNNUS       149    14  dwelling_id                 building id + stair + flat
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from orchestration.legacy import reference as ref
from orchestration.legacy.canonical import clean_text, compact_date, mojibake
from orchestration.legacy.defects import DUPLICATE, CleanRowPool, DefectInjector, impossible_date
from orchestration.legacy.henkilotunnus import with_wrong_check_character
from orchestration.legacy.households import Household, Person

SYSTEM = "population_register"
ENCODING = "latin-1"
RECORD_TYPE = "000TILLIT-VTJ-EXTRACT"
LAYOUT_VERSION = "v1"
DEFECT_CHECKS = (
    "henkilotunnus", "valid_date", "municipality_code", "unique_key", "no_mojibake", "not_nullable",
)  # fmt: skip


@dataclass(frozen=True)
class FixedWidthField:
    """One field of a fixed-width record: source column, offset, width and canonical name."""

    source: str
    start: int
    width: int
    canonical: str


def _layout(fields: tuple[tuple[str, int, str], ...]) -> tuple[FixedWidthField, ...]:
    starts = [0]
    for _, width, _ in fields:
        starts.append(starts[-1] + width)
    return tuple(FixedWidthField(s, starts[i], w, c) for i, (s, w, c) in enumerate(fields))


VTJ_LAYOUT = _layout((
    ("HETU", 11, "person_id"), ("SUKUNIMI", 30, "last_name"), ("ETUNIMET", 40, "first_names"),
    ("SYNTYMAPVM", 8, "birth_date"), ("SUKUPUOLI", 1, "sex"), ("KOTIKUNTA", 3, "municipality_code"),
    ("LAHIOSOITE", 40, "street_address"), ("POSTINUMERO", 5, "postal_code"),
    ("MUUTTOPVM", 8, "move_in_date"), ("EDELLINEN_KUNTA", 3, "previous_municipality_code"),
    ("ASUNTOTUNNUS", 14, "dwelling_id"),
))  # fmt: skip
RECORD_WIDTH = sum(f.width for f in VTJ_LAYOUT)
CANONICAL_COLUMNS = tuple(f.canonical for f in VTJ_LAYOUT)
_INDEX = {f.canonical: i for i, f in enumerate(VTJ_LAYOUT)}
_WIDTHS = tuple(f.width for f in VTJ_LAYOUT)
_DATE_FIELDS = frozenset({"birth_date", "move_in_date"})


def header_line(as_of: date) -> str:
    """The header record that documents the layout of the data records."""
    columns = ";".join(f"{f.source}:{f.width}" for f in VTJ_LAYOUT)
    return f"{RECORD_TYPE};{LAYOUT_VERSION};{as_of:%Y%m%d};{columns}"


def canonical_value(field: str, raw: str) -> str | None:
    """The canonical text a reader yields for a raw field value (as padded in the file)."""
    width = VTJ_LAYOUT[_INDEX[field]].width
    text = raw[:width]
    return compact_date(text) if field in _DATE_FIELDS else clean_text(text)


class PopulationRegisterWriter:
    """Writes the fixed-width extract household by household, injecting defects as it goes."""

    def __init__(self, path: Path, as_of: date, injector: DefectInjector) -> None:
        self._path = path
        self._as_of = as_of
        self._defects = injector
        self._rng: random.Random = injector.rng
        self._pool: CleanRowPool[tuple[str, str]] = CleanRowPool(injector.rng)
        self._handle: IO[str] | None = None
        self.rows = 0

    def __enter__(self) -> Self:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self._path.open("w", encoding=ENCODING, newline="\n")
        self._handle.write(header_line(self._as_of) + "\n")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()

    def write_household(self, household: Household, referenced: set[str]) -> None:
        """Write one record per member; people other systems refer to are never made defective."""
        for person in household.members:
            values = self._values(household, person)
            eligible = person.person_id not in referenced
            check = self._defects.draw(eligible=eligible, can_duplicate=bool(self._pool))
            if check == DUPLICATE:
                line, person_id = self._pool.take()
                self._emit(line)
                self._defects.record(f"line {self.rows + 1}", check, "person_id", person_id)
                check = None
            elif check is not None:
                self._inject(values, check)
            line = "".join(v[:w].ljust(w) for v, w in zip(values, _WIDTHS, strict=True))
            self._emit(line)
            if check is None and eligible:
                self._pool.add((line, person.person_id))

    def _emit(self, line: str) -> None:
        if self._handle is None:
            raise RuntimeError("population register writer is not open")
        self._handle.write(line + "\n")
        self.rows += 1

    def _values(self, household: Household, person: Person) -> list[str]:
        moved = household.move_in_date
        if moved is not None and moved < person.birth_date:
            moved = None  # born after the household moved in
        previous = household.previous_municipality_code if moved else None
        return [
            person.person_id, person.last_name, person.first_names,
            f"{person.birth_date:%Y%m%d}", "1" if person.male else "2",
            household.municipality_code, household.street_address, household.postal_code,
            f"{moved:%Y%m%d}" if moved else "", previous or "", household.dwelling_id,
        ]  # fmt: skip

    def _inject(self, values: list[str], check: str) -> None:
        rng = self._rng
        field = "person_id"
        if check == "henkilotunnus":
            values[0] = with_wrong_check_character(values[0], rng)
        elif check == "valid_date":
            field = "move_in_date" if values[8] and rng.random() < 0.3 else "birth_date"
            real = date(int(values[_INDEX[field]][:4]), 6, 15)
            bad = impossible_date(rng, real)
            values[_INDEX[field]] = f"{bad.year:04d}{bad.month:02d}{bad.day:02d}"
        elif check == "municipality_code":
            moved_in = values[9] and rng.random() < 0.5
            field = "previous_municipality_code" if moved_in else "municipality_code"
            values[_INDEX[field]] = rng.choice(ref.RETIRED_MUNICIPALITY_CODES)
        elif check == "no_mojibake":
            field = self._mojibake(values)
        elif check == "not_nullable":
            field = rng.choice(("birth_date", "last_name"))
            values[_INDEX[field]] = ""
        value = canonical_value(field, values[_INDEX[field]])
        self._defects.record(f"line {self.rows + 2}", check, field, value)

    def _mojibake(self, values: list[str]) -> str:
        fields = [f for f in ("last_name", "first_names", "street_address")
                  if not values[_INDEX[f]].isascii()]  # fmt: skip
        if not fields:
            values[_INDEX["last_name"]] = self._rng.choice(ref.NON_ASCII_SURNAMES)
            fields = ["last_name"]
        field = self._rng.choice(fields)
        values[_INDEX[field]] = mojibake(values[_INDEX[field]])
        return field
