"""Which public services a household uses: daycare placements, school enrolments, family cases."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from itertools import accumulate

from orchestration.legacy import reference as ref
from orchestration.legacy.households import Household, Person, random_date

MAX_FEE_CENTS = 31_100  # the highest monthly early childhood education fee, in cents
HOURS = (20, 25, 30, 35, 40, 45)
HOURS_WEIGHTS = tuple(accumulate((8, 10, 14, 18, 38, 12)))
SUPPORT_LEVELS = ("yleinen", "tehostettu", "erityinen")
SUPPORT_WEIGHTS = tuple(accumulate((78, 13, 9)))
CASE_TYPES = ("perhetyö", "lastensuojeluilmoitus", "kotipalvelu", "vanhemmuuden tuki")
CASE_WEIGHTS = tuple(accumulate((35, 30, 15, 20)))
CHILD_CLIENT_CASES = frozenset({"perhetyö", "lastensuojeluilmoitus"})
STATUS_APPLIED, STATUS_ACTIVE, STATUS_ENDED, STATUS_CANCELLED = 1, 2, 3, 9


@dataclass(slots=True)
class Placement:
    """One early childhood education application or placement (a row of LPS_SIJ)."""

    child_id: str
    unit_code: str
    application_date: date
    start_date: date | None
    end_date: date | None
    hours_per_week: int
    fee_cents: int | None
    status: int


@dataclass(slots=True)
class Enrolment:
    """One pupil's enrolment at a school."""

    pupil_id: str
    school_code: str
    school_name: str
    grade: int
    start_date: date
    language: str
    support: str


@dataclass(slots=True)
class Case:
    """One family social services case."""

    client_id: str
    case_type: str
    opened: date
    closed: date | None
    previous_municipality_code: str | None
    unit: str
    support_cents: int | None


@dataclass(slots=True)
class ServicePlan:
    """Everything a household has in the three service systems."""

    placements: list[Placement] = field(default_factory=list)
    enrolments: list[Enrolment] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)

    def referenced_ids(self) -> set[str]:
        """Henkilötunnus codes that the service systems refer to."""
        ids = {p.child_id for p in self.placements} | {e.pupil_id for e in self.enrolments}
        return ids | {c.client_id for c in self.cases}


def school_year(as_of: date) -> int:
    """The calendar year in which the school year running on as_of began."""
    return as_of.year if as_of >= school_year_start(as_of.year) else as_of.year - 1


def school_year_start(year: int) -> date:
    """The first school day in Lahti: 8 August, or the Monday after when it is a weekend."""
    start = date(year, 8, 8)
    return start + timedelta(days=(7 - start.weekday()) % 7 if start.weekday() >= 5 else 0)


class ServicePlanner:
    """Decides, deterministically, which services each household uses."""

    def __init__(self, rng: random.Random, as_of: date) -> None:
        self._rng = rng
        self._as_of = as_of
        self._year = school_year(as_of)

    def plan(self, household: Household) -> ServicePlan:
        """Return the placements, enrolments and cases of one household."""
        plan = ServicePlan()
        if household.municipality_code == ref.LAHTI:
            siblings = 0
            for child in household.children:
                grade = self._year - child.birth_date.year - 6
                if grade >= 0 and self._rng.random() < 0.98:
                    plan.enrolments.extend(self._enrolment(household, child, grade))
                if self._age(child) >= 1 and grade < 1:
                    placements = self._placements(household, child, siblings)
                    siblings += any(p.status == STATUS_ACTIVE for p in placements)
                    plan.placements.extend(placements)
        plan.cases.extend(self._cases(household))
        return plan

    def _age(self, person: Person) -> int:
        born, today = person.birth_date, self._as_of
        return today.year - born.year - ((today.month, today.day) < (born.month, born.day))

    def _moved_in(self, household: Household) -> date | None:
        return household.move_in_date if household.previous_municipality_code else None

    def _placements(self, household: Household, child: Person, siblings: int) -> list[Placement]:
        rng, as_of = self._rng, self._as_of
        moved = self._moved_in(household)
        active_share, applied_share = (0.55, 0.35) if moved else (0.78, 0.10)
        earliest = max(child.birth_date + timedelta(days=280), as_of - timedelta(days=5 * 365))
        earliest = max(earliest, moved) if moved else earliest
        draw = rng.random()
        if draw < active_share and earliest < as_of - timedelta(days=1):
            return self._active(child, earliest, siblings)
        if draw < active_share + applied_share:
            low = max(as_of - timedelta(days=120), child.birth_date + timedelta(days=1))
            applied = random_date(rng, max(low, moved) if moved else low, as_of - timedelta(days=1))
            status = STATUS_CANCELLED if rng.random() < 0.05 else STATUS_APPLIED
            hours = rng.choices(HOURS, cum_weights=HOURS_WEIGHTS)[0]
            return [Placement(child.person_id, self._unit(household), applied, None, None, hours,
                              None, status)]  # fmt: skip
        return []

    def _active(self, child: Person, earliest: date, siblings: int) -> list[Placement]:
        rng, as_of = self._rng, self._as_of
        start = random_date(rng, earliest, as_of - timedelta(days=1))
        hours = rng.choices(HOURS, cum_weights=HOURS_WEIGHTS)[0]
        unit = rng.choice(ref.DAYCARE_UNITS)[0]
        rows: list[Placement] = []
        if (start - earliest).days > 240 and rng.random() < 0.15:
            before = random_date(rng, earliest, start - timedelta(days=120))
            rows.append(Placement(child.person_id, rng.choice(ref.DAYCARE_UNITS)[0],
                                  self._application(child, before), before,
                                  start - timedelta(days=1), hours, self._fee(hours, siblings),
                                  STATUS_ENDED))  # fmt: skip
        rows.append(Placement(child.person_id, unit, self._application(child, start), start, None,
                              hours, self._fee(hours, siblings), STATUS_ACTIVE))  # fmt: skip
        return rows

    def _application(self, child: Person, start: date) -> date:
        applied = start - timedelta(days=self._rng.randint(30, 120))
        return max(applied, child.birth_date + timedelta(days=1))

    def _unit(self, household: Household) -> str:
        if household.swedish_speaking:
            return ref.SWEDISH_DAYCARE_UNIT[0]
        units = ref.DAYCARE_UNITS
        near = [u for u in units if u[2] == household.postal_code]
        return (near[0] if near and self._rng.random() < 0.7 else self._rng.choice(units))[0]

    def _fee(self, hours: int, siblings: int) -> int:
        if self._rng.random() < 0.15:
            return 0  # low-income families pay no fee
        hours_factor = 0.6 if hours <= 25 else 0.8 if hours <= 35 else 1.0
        sibling_factor = (1.0, 0.4)[siblings] if siblings < 2 else 0.2
        income_factor = self._rng.uniform(0.15, 1.0)
        return round(MAX_FEE_CENTS * hours_factor * sibling_factor * income_factor)

    def _enrolment(self, household: Household, child: Person, grade: int) -> list[Enrolment]:
        if grade > 9:
            return []
        rng = self._rng
        if household.swedish_speaking:
            code, name, low, _ = ref.SWEDISH_SCHOOL
        else:
            candidates = [s for s in ref.FINNISH_SCHOOLS if s[2] <= grade <= s[3]]
            pick = int(household.postal_code) // 10 if rng.random() < 0.85 else rng.randrange(99)
            code, name, low, _ = candidates[pick % len(candidates)]
        start = school_year_start(self._year - (grade - low))
        moved = self._moved_in(household)
        if moved and start < moved:
            start = min(moved + timedelta(days=rng.randint(1, 14)), self._as_of)
        support = rng.choices(SUPPORT_LEVELS, cum_weights=SUPPORT_WEIGHTS)[0]
        language = "sv" if household.swedish_speaking else "fi"
        return [Enrolment(child.person_id, code, name, grade, start, language, support)]

    def _cases(self, household: Household) -> list[Case]:
        rng = self._rng
        children, adults = household.children, household.adults
        moved = self._moved_in(household)
        if not children or rng.random() >= (0.15 if moved else 0.035):
            return []
        cases = []
        for _ in range(1 if rng.random() < 0.8 else 2):
            case_type = rng.choices(CASE_TYPES, cum_weights=CASE_WEIGHTS)[0]
            client = rng.choice(children if case_type in CHILD_CLIENT_CASES else adults)
            cases.append(self._case(household, client, case_type))
        return cases

    def _case(self, household: Household, client: Person, case_type: str) -> Case:
        rng, as_of = self._rng, self._as_of
        earliest = max(client.birth_date, as_of - timedelta(days=3 * 365))
        moved = self._moved_in(household)
        previous = None
        if moved and rng.random() < 0.4 and earliest < moved - timedelta(days=1):
            opened = random_date(
                rng, max(earliest, moved - timedelta(days=730)), moved - timedelta(days=1)
            )
            previous = household.previous_municipality_code
        else:
            opened = random_date(rng, max(earliest, moved or earliest), as_of - timedelta(days=1))
        closed = opened + timedelta(days=rng.randint(14, 500))
        units = ref.FAMILY_SERVICE_UNITS.get(
            household.municipality_code, (ref.REGIONAL_FAMILY_UNIT,)
        )
        support = None
        if case_type != "lastensuojeluilmoitus" and rng.random() < 0.8:
            support = rng.randint(20, 9000) * 50
        return Case(client.person_id, case_type, opened,
                    closed if closed < as_of and rng.random() < 0.5 else None,
                    previous, rng.choice(units), support)  # fmt: skip
