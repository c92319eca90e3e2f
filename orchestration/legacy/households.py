"""Synthetic households: who lives together, where, and whether they moved into Lahti recently."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import accumulate
from typing import TypeVar

from orchestration.legacy import reference as ref
from orchestration.legacy.henkilotunnus import HenkilotunnusAllocator

T = TypeVar("T")
MOVER_SHARE = 0.065  # households that moved into Lahti from elsewhere within the last 3 years
RECENT_DAYS = 3 * 365
_TYPES = ("single", "couple", "single_parent", "two_parents", "shared")
_TYPE_WEIGHTS = tuple(accumulate((41, 28, 6, 17, 8)))
_CHILD_COUNTS = (1, 2, 3, 4)
_CHILD_COUNT_WEIGHTS = tuple(accumulate((45, 38, 13, 4)))


@dataclass(slots=True)
class Person:
    """One resident as the population register knows them."""

    person_id: str
    last_name: str
    first_names: str
    birth_date: date
    male: bool
    child: bool


@dataclass(slots=True)
class Household:
    """People sharing one dwelling; movers carry the municipality they came from."""

    index: int
    members: list[Person]
    municipality_code: str
    street_address: str
    postal_code: str
    dwelling_id: str
    move_in_date: date | None
    previous_municipality_code: str | None
    swedish_speaking: bool

    @property
    def children(self) -> list[Person]:
        """Members under 18."""
        return [p for p in self.members if p.child]

    @property
    def adults(self) -> list[Person]:
        """Members aged 18 or over."""
        return [p for p in self.members if not p.child]


def random_date(rng: random.Random, low: date, high: date) -> date:
    """A uniformly random date in [low, high]; low when the range is empty."""
    span = (high - low).days
    return low if span <= 0 else low + timedelta(days=rng.randint(0, span))


def _weighted(rng: random.Random, cumulative: tuple[int, ...], values: tuple[T, ...]) -> T:
    return rng.choices(values, cum_weights=cumulative)[0]


class HouseholdFactory:
    """Generates households one at a time, deterministically from its random generator."""

    def __init__(self, rng: random.Random, allocator: HenkilotunnusAllocator, as_of: date) -> None:
        self._rng = rng
        self._ids = allocator
        self._as_of = as_of
        self._homes = tuple(code for code, _ in ref.HOME_MUNICIPALITIES)
        self._home_weights = tuple(accumulate(w for _, w in ref.HOME_MUNICIPALITIES))
        self._previous = tuple(code for code, _ in ref.PREVIOUS_MUNICIPALITIES)
        self._previous_weights = tuple(accumulate(w for _, w in ref.PREVIOUS_MUNICIPALITIES))
        self._streets = {code: self._street_table(code) for code in ref.STREETS}

    @staticmethod
    def _street_table(code: str) -> tuple[tuple[tuple[str, str], ...], tuple[int, ...]]:
        streets = ref.STREETS[code]
        return tuple((s, p) for s, p, _ in streets), tuple(accumulate(w for *_, w in streets))

    def households(self, people: int) -> Iterator[Household]:
        """Yield households until exactly `people` residents have been generated."""
        remaining, index = people, 0
        while remaining > 0:
            household = self._household(index, remaining)
            remaining -= len(household.members)
            index += 1
            yield household

    def _household(self, index: int, limit: int) -> Household:
        rng = self._rng
        kind = _weighted(rng, _TYPE_WEIGHTS, _TYPES)
        members = self._members(kind)[:limit]
        home = _weighted(rng, self._home_weights, self._homes)
        mover = home == ref.LAHTI and rng.random() < MOVER_SHARE / 0.85
        street, postal = self._address(home)
        number, stair, flat = rng.randint(1, 120), rng.choice("ABCD"), rng.randint(1, 60)
        building = (
            100_000_000 + (sum(map(ord, street)) * 1009 + number * 7 + int(postal)) % 900_000_000
        )
        building_id = f"{building}{'0123456789ABCDEFHJKLMNPRSTUVWXY'[building % 31]}"
        youngest_adult = max(p.birth_date for p in members if not p.child)
        earliest = youngest_adult.replace(year=youngest_adult.year + 18, day=1)
        recent = self._as_of - timedelta(days=RECENT_DAYS)
        previous: str | None = None
        if mover:
            previous = _weighted(rng, self._previous_weights, self._previous)
            moved: date | None = random_date(rng, recent, self._as_of - timedelta(days=1))
        elif rng.random() < 0.15:
            moved = None  # lived at the address since before the register's move history
        else:
            moved = random_date(rng, earliest, self._as_of - timedelta(days=1))
        return Household(
            index=index,
            members=members,
            municipality_code=home,
            street_address=f"{street} {number} {stair} {flat}",
            postal_code=postal,
            dwelling_id=f"{building_id}{stair}{flat:03d}",
            move_in_date=moved,
            previous_municipality_code=previous,
            swedish_speaking=rng.random() < 0.05,
        )

    def _address(self, home: str) -> tuple[str, str]:
        streets, weights = self._streets[home]
        street, postal = streets[self._rng.choices(range(len(streets)), cum_weights=weights)[0]]
        return street, postal

    def _members(self, kind: str) -> list[Person]:
        rng = self._rng
        surname = rng.choice(ref.SURNAMES)
        if kind == "single":
            return [self._person(surname, rng.randint(21, 90), rng.random() < 0.48, child=False)]
        if kind in ("couple", "shared"):
            age = rng.randint(21, 85) if kind == "couple" else rng.randint(21, 35)
            count = 2 if kind == "couple" else rng.randint(2, 3)
            return [
                self._person(
                    surname
                    if kind == "couple" and rng.random() < 0.7
                    else rng.choice(ref.SURNAMES),
                    max(21, age + rng.randint(-5, 5)),
                    (i % 2 == 0) if rng.random() < 0.9 else rng.random() < 0.5,
                    child=False,
                )
                for i in range(count)
            ]
        return self._family(surname, two_parents=kind == "two_parents")

    def _family(self, surname: str, *, two_parents: bool) -> list[Person]:
        rng = self._rng
        count = _weighted(rng, _CHILD_COUNT_WEIGHTS, _CHILD_COUNTS)
        ages = [rng.randint(0, 17) for _ in range(count)]
        age = max(ages) + rng.randint(22, 38)
        parents = [self._person(surname, age, rng.random() < 0.2, child=False)]
        if two_parents:
            partner_age = max(max(ages) + 20, age + rng.randint(-4, 5))
            other = surname if rng.random() < 0.7 else rng.choice(ref.SURNAMES)
            parents.append(self._person(other, partner_age, not parents[0].male, child=False))
        children = [self._person(surname, a, rng.random() < 0.51, child=True) for a in ages]
        return parents + children

    def _person(self, surname: str, age: int, male: bool, *, child: bool) -> Person:
        rng = self._rng
        birth = self._as_of - timedelta(days=int(age * 365.25) + rng.randint(1, 364))
        person_id, birth = self._ids.allocate(birth, male)
        names = ref.CHILD_FIRST_NAMES[male] if child else ref.ADULT_FIRST_NAMES[male]
        first = rng.choice(names)
        if rng.random() < 0.85:
            first += " " + rng.choice(ref.MIDDLE_NAMES[male])
        return Person(person_id, surname, first, birth, male, child)
