"""Defect injection: when a row gets a defect, which one, and the manifest entry that records it.

Every source row draws against `defect_rate`; a hit is owed and paid on the next row that may
carry a defect (in the population register only people no other system refers to, so a
quarantined person never orphans rows elsewhere). Each injected row gets exactly one defect,
chosen uniformly from the system's kinds, so realised rates match `defect_rate` per system.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date
from typing import Generic, TypeVar

from orchestration.legacy.drop import InjectedDefect, ManifestWriter

R = TypeVar("R")

# expected contract check -> short description of the injected defect
DEFECT_NAMES: dict[str, str] = {
    "henkilotunnus": "bad_check_character",
    "valid_date": "impossible_date",
    "municipality_code": "unknown_municipality_code",
    "unique_key": "duplicate_row",
    "no_mojibake": "mojibake",
    "not_nullable": "missing_value",
    "references": "orphaned_reference",
    "non_negative": "negative_amount",
}
DUPLICATE = "unique_key"


@dataclass(frozen=True)
class ImpossibleDate:
    """A calendar date that cannot exist, kept as its parts so each system can format it."""

    year: int
    month: int
    day: int


def impossible_date(rng: random.Random, near: date) -> ImpossibleDate:
    """An impossible date in the year of `near`: 30 February, 31 April, month 13 and the like."""
    year = near.year
    choices = [
        ImpossibleDate(year, 2, 30),
        ImpossibleDate(year, 2, 31),
        ImpossibleDate(year, 4, 31),
        ImpossibleDate(year, 6, 31),
        ImpossibleDate(year, 9, 31),
        ImpossibleDate(year, 11, 31),
        ImpossibleDate(year, 13, near.day),
        ImpossibleDate(year, near.month, 32),
    ]
    if year % 4:  # 29 February in a year that is not a leap year
        choices.append(ImpossibleDate(year, 2, 29))
    return rng.choice(choices)


class CleanRowPool(Generic[R]):
    """A bounded random sample of earlier clean rows, the originals that duplicates copy."""

    def __init__(self, rng: random.Random, capacity: int = 256) -> None:
        self._rng = rng
        self._capacity = capacity
        self._rows: list[R] = []

    def __bool__(self) -> bool:
        return bool(self._rows)

    def add(self, row: R) -> None:
        """Offer a clean row; when full it replaces a random earlier one."""
        if len(self._rows) < self._capacity:
            self._rows.append(row)
        elif self._rng.random() < 0.1:
            self._rows[self._rng.randrange(self._capacity)] = row

    def take(self) -> R:
        """Remove and return a random row, so no original is copied twice."""
        index = self._rng.randrange(len(self._rows))
        self._rows[index], self._rows[-1] = self._rows[-1], self._rows[index]
        return self._rows.pop()


class DefectInjector:
    """Decides which rows of one system get a defect and records each one in the manifest."""

    def __init__(
        self,
        system: str,
        kinds: tuple[str, ...],
        rate: float,
        rng: random.Random,
        manifest: ManifestWriter,
    ) -> None:
        self.system = system
        self.rng = rng
        self._kinds = kinds
        self._without_duplicate = tuple(k for k in kinds if k != DUPLICATE)
        self._rate = rate
        self._owed = 0
        self._manifest = manifest

    def draw(self, *, eligible: bool = True, can_duplicate: bool = True) -> str | None:
        """Return the check a defect in this row must trip, or None to keep the row clean."""
        if self.rng.random() < self._rate:
            self._owed += 1
        if not eligible or not self._owed:
            return None
        self._owed -= 1
        return self.rng.choice(self._kinds if can_duplicate else self._without_duplicate)

    def record(self, source_ref: str, check: str, column: str, value: str | None) -> None:
        """Add the injected defect to the manifest."""
        self._manifest.record(
            InjectedDefect(self.system, source_ref, DEFECT_NAMES[check], column, check, value)
        )
