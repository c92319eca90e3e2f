"""Early childhood education: a daycare vendor's SQLite database with cryptic upper-case names.

File `early_childhood_education/varhaiskasvatus.db`. Documented layout:

    YKS      units       YKS_KD TEXT unit code, YKS_NMI TEXT unit name, PSTNRO TEXT postal code
    LPS_SIJ  placements  SIJ_ID INTEGER, LPS_HTU TEXT child henkilötunnus, YKS_KD TEXT,
                         HAK_PVM TEXT application date DD.MM.YYYY, ALK_PVM TEXT start date or NULL,
                         PAA_PVM TEXT end date or NULL, TNT_VK INTEGER hours per week,
                         MKS_SNT INTEGER monthly fee in cents,
                         TILA INTEGER 1 = applied, 2 = active, 3 = ended, 9 = cancelled

SIJ_ID is not declared unique, as in the vendor's schema, so duplicate rows can exist.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Self

from orchestration.legacy import reference as ref
from orchestration.legacy.canonical import cents_to_euros, occurrence_ref
from orchestration.legacy.defects import DUPLICATE, CleanRowPool, DefectInjector, impossible_date
from orchestration.legacy.henkilotunnus import with_wrong_check_character
from orchestration.legacy.services import Placement

SYSTEM = "early_childhood_education"
DEFECT_CHECKS = (
    "henkilotunnus", "valid_date", "unique_key", "not_nullable", "references", "non_negative",
)  # fmt: skip
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "YKS": (("YKS_KD", "TEXT"), ("YKS_NMI", "TEXT"), ("PSTNRO", "TEXT")),
    "LPS_SIJ": (
        ("SIJ_ID", "INTEGER"), ("LPS_HTU", "TEXT"), ("YKS_KD", "TEXT"), ("HAK_PVM", "TEXT"),
        ("ALK_PVM", "TEXT"), ("PAA_PVM", "TEXT"), ("TNT_VK", "INTEGER"), ("MKS_SNT", "INTEGER"),
        ("TILA", "INTEGER"),
    ),
}  # fmt: skip
STATUS_LABELS = {"1": "applied", "2": "active", "3": "ended", "9": "cancelled"}
CANONICAL_COLUMNS = (
    "placement_id", "child_id", "unit_code", "unit_name", "application_date", "start_date",
    "end_date", "hours_per_week", "monthly_fee_eur", "status",
)  # fmt: skip
FIRST_PLACEMENT_ID = 10_001
_BATCH = 5_000
Row = list[object]


def source_ref(placement_id: object, occurrence: int = 1) -> str:
    """How a placement row is referred to in quarantine and the manifest."""
    return occurrence_ref(f"LPS_SIJ.SIJ_ID={placement_id}", occurrence)


def _dmy(day: date | None) -> str | None:
    return None if day is None else f"{day.day:02d}.{day.month:02d}.{day.year:04d}"


class EarlyChildhoodEducationWriter:
    """Writes units and placements to the vendor database, injecting defects as it goes."""

    def __init__(self, path: Path, injector: DefectInjector, orphan_id: Callable[[], str]) -> None:
        self._path = path
        self._defects = injector
        self._rng = injector.rng
        self._orphan_id = orphan_id
        self._pool: CleanRowPool[tuple[object, ...]] = CleanRowPool(injector.rng)
        self._batch: list[tuple[object, ...]] = []
        self._connection: sqlite3.Connection | None = None
        self._next_id = FIRST_PLACEMENT_ID
        self.rows = 0

    def __enter__(self) -> Self:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._path.unlink(missing_ok=True)
        connection = sqlite3.connect(self._path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=OFF")
        connection.execute("PRAGMA synchronous=OFF")
        connection.execute("BEGIN")
        for table, columns in TABLES.items():
            spec = ", ".join(f"{name} {kind}" for name, kind in columns)
            connection.execute(f"CREATE TABLE {table} ({spec})")
        units = (*ref.DAYCARE_UNITS, ref.SWEDISH_DAYCARE_UNIT)
        connection.executemany("INSERT INTO YKS VALUES (?, ?, ?)", units)
        self._connection = connection
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._connection is None:
            return
        if kind is None:
            self._flush()
            self._connection.execute("COMMIT")
        self._connection.close()

    def write(self, placements: list[Placement]) -> None:
        """Insert one LPS_SIJ row per placement (plus any injected duplicates)."""
        for placement in placements:
            check = self._defects.draw(can_duplicate=bool(self._pool))
            if check == DUPLICATE:
                copy = self._pool.take()
                self._insert(copy)
                self._defects.record(source_ref(copy[0], 2), check, "placement_id", str(copy[0]))
                check = None
            row: Row = [
                self._next_id, placement.child_id, placement.unit_code,
                _dmy(placement.application_date), _dmy(placement.start_date),
                _dmy(placement.end_date), placement.hours_per_week, placement.fee_cents,
                placement.status,
            ]  # fmt: skip
            self._next_id += 1
            if check is not None:
                self._inject(row, check)
            self._insert(tuple(row))
            if check is None:
                self._pool.add(tuple(row))

    def _insert(self, row: tuple[object, ...]) -> None:
        self._batch.append(row)
        self.rows += 1
        if len(self._batch) >= _BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._connection is not None and self._batch:
            self._connection.executemany(
                "INSERT INTO LPS_SIJ VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", self._batch
            )
            self._batch.clear()

    def _inject(self, row: Row, check: str) -> None:
        rng = self._rng
        column, value = "child_id", None
        if check == "henkilotunnus":
            row[1] = value = with_wrong_check_character(str(row[1]), rng)
        elif check == "references":
            row[1] = value = self._orphan_id()
        elif check == "valid_date":
            index = 4 if row[4] is not None and rng.random() < 0.5 else 3
            column = "start_date" if index == 4 else "application_date"
            bad = impossible_date(rng, date(int(str(row[index])[-4:]), 6, 15))
            row[index] = value = f"{bad.day:02d}.{bad.month:02d}.{bad.year:04d}"
        elif check == "not_nullable":
            index = rng.choice((1, 2, 3))
            column = ("child_id", "unit_code", "application_date")[index - 1]
            row[index] = None
        elif check == "non_negative":
            fee = row[7] if isinstance(row[7], int) and row[7] > 0 else rng.randint(1_000, 31_100)
            row[7] = -fee
            column, value = "monthly_fee_eur", cents_to_euros(-fee)
        self._defects.record(source_ref(row[0]), check, column, value)
