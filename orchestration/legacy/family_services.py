"""Family social services: the wellbeing services county's case export, a cp1252 CSV.

File `family_services/perhepalvelut.csv`, encoded cp1252, `;`-separated, `\\r\\n` line endings,
decimal commas, dates D.M.YYYY. Documented header and canonical fields:

    Asianumero       case_id                     e.g. PH-2024-000123
    Henkilötunnus    client_id                   henkilötunnus of the child or parent
    Asian tyyppi     case_type                   perhetyö | lastensuojeluilmoitus | kotipalvelu |
                                                 vanhemmuuden tuki
    Avattu           opened_date                 D.M.YYYY
    Suljettu         closed_date                 D.M.YYYY, empty while open
    Edellinen kunta  previous_municipality_code  when the case began in the previous municipality
    Yksikkö          unit
    Tuki euroa       support_eur                 decimal comma, empty when no money is involved
"""

from __future__ import annotations

import csv
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from orchestration.legacy import reference as ref
from orchestration.legacy.canonical import decimal_comma
from orchestration.legacy.defects import DUPLICATE, CleanRowPool, DefectInjector, impossible_date
from orchestration.legacy.henkilotunnus import with_wrong_check_character
from orchestration.legacy.services import Case

SYSTEM = "family_services"
ENCODING = "cp1252"
DELIMITER = ";"
HEADER = (
    "Asianumero", "Henkilötunnus", "Asian tyyppi", "Avattu", "Suljettu", "Edellinen kunta",
    "Yksikkö", "Tuki euroa",
)  # fmt: skip
CANONICAL_COLUMNS = (
    "case_id", "client_id", "case_type", "opened_date", "closed_date",
    "previous_municipality_code", "unit", "support_eur",
)  # fmt: skip
CASE_TYPE_LABELS = {
    "perhetyö": "family_work",
    "lastensuojeluilmoitus": "child_welfare_notification",
    "kotipalvelu": "home_service",
    "vanhemmuuden tuki": "parenting_support",
}
DEFECT_CHECKS = (
    "henkilotunnus", "valid_date", "municipality_code", "unique_key", "not_nullable",
    "references", "non_negative",
)  # fmt: skip


def _dmy(day: date | None) -> str:
    return "" if day is None else f"{day.day}.{day.month}.{day.year}"


def _euros(cents: int | None) -> str:
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100},{abs(cents) % 100:02d}"


class FamilyServicesWriter:
    """Streams cases to the CSV export, injecting defects as it goes."""

    def __init__(self, path: Path, injector: DefectInjector, orphan_id: Callable[[], str]) -> None:
        self._path = path
        self._defects = injector
        self._rng: random.Random = injector.rng
        self._orphan_id = orphan_id
        self._pool: CleanRowPool[list[str]] = CleanRowPool(injector.rng)
        self._handle: IO[str] | None = None
        self._next_id = 1
        self.rows = 0

    def __enter__(self) -> Self:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = self._path.open("w", encoding=ENCODING, newline="")
        self._csv = csv.writer(self._handle, delimiter=DELIMITER, lineterminator="\r\n")
        self._csv.writerow(HEADER)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._handle is not None:
            self._handle.close()

    def write(self, cases: list[Case]) -> None:
        """Write one line per case (plus any injected duplicates)."""
        for case in cases:
            check = self._defects.draw(can_duplicate=bool(self._pool))
            if check == DUPLICATE:
                copy = self._pool.take()
                self._emit(copy)
                self._defects.record(f"line {self.rows + 1}", check, "case_id", copy[0])
                check = None
            row = [
                f"PH-{case.opened.year}-{self._next_id:06d}", case.client_id, case.case_type,
                _dmy(case.opened), _dmy(case.closed), case.previous_municipality_code or "",
                case.unit, _euros(case.support_cents),
            ]  # fmt: skip
            self._next_id += 1
            if check is not None:
                self._inject(row, check)
            self._emit(row)
            if check is None:
                self._pool.add(row)

    def _emit(self, row: list[str]) -> None:
        if self._handle is None:
            raise RuntimeError("family services writer is not open")
        self._csv.writerow(row)
        self.rows += 1

    def _inject(self, row: list[str], check: str) -> None:
        rng = self._rng
        column, value = "client_id", None
        if check == "henkilotunnus":
            row[1] = value = with_wrong_check_character(row[1], rng)
        elif check == "references":
            row[1] = value = self._orphan_id()
        elif check == "valid_date":
            index = 4 if row[4] and rng.random() < 0.4 else 3
            column = "closed_date" if index == 4 else "opened_date"
            bad = impossible_date(rng, date(int(row[index][-4:]), 6, 15))
            row[index] = value = f"{bad.day}.{bad.month}.{bad.year}"
        elif check == "municipality_code":
            row[5] = value = rng.choice(ref.RETIRED_MUNICIPALITY_CODES)
            column = "previous_municipality_code"
        elif check == "not_nullable":
            index = rng.choice((2, 3))
            column = "case_type" if index == 2 else "opened_date"
            row[index] = ""
        elif check == "non_negative":
            cents = rng.randint(20, 9000) * 50
            row[7] = _euros(-cents)
            column, value = "support_eur", decimal_comma(row[7])
        # data rows start on line 2; this row is about to become line rows + 2
        self._defects.record(f"line {self.rows + 2}", check, column, value)
