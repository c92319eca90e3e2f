"""Deterministic generator of one drop of the four legacy source systems.

People are generated household by household and written straight to all four systems, so
memory stays bounded however many people are asked for. The same seed and arguments give
byte-identical files.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from orchestration.legacy import early_childhood_education as ece
from orchestration.legacy import family_services as fs
from orchestration.legacy import population_register as vtj
from orchestration.legacy import school_enrolment as school
from orchestration.legacy.defects import DefectInjector
from orchestration.legacy.drop import (
    DROP_FILE,
    FILES,
    MANIFEST_FILE,
    DropInfo,
    ManifestWriter,
    make_drop_info,
    write_drop_info,
)
from orchestration.legacy.henkilotunnus import HenkilotunnusAllocator
from orchestration.legacy.households import HouseholdFactory
from orchestration.legacy.services import ServicePlanner

PROGRESS_EVERY = 1_000


def _orphan_ids(
    allocator: HenkilotunnusAllocator, rng: random.Random, as_of: date
) -> Callable[[], str]:
    """A source of valid henkilötunnus codes that belong to nobody in the population register."""

    def orphan_id() -> str:
        """A fresh code for a child aged 1 to 15 who is not in the register."""
        birth = as_of - timedelta(days=rng.randint(365, 15 * 365))
        return allocator.allocate(birth, rng.random() < 0.5)[0]

    return orphan_id


def _validate(people: int, defect_rate: float) -> None:
    if people < 1:
        raise ValueError(f"people must be at least 1, got {people}")
    if not 0.0 <= defect_rate <= 1.0:
        raise ValueError(f"defect_rate must be between 0 and 1, got {defect_rate}")


def _stream(seed: int, name: str) -> random.Random:
    """An independent random stream per concern, so changing one system never shifts another."""
    return random.Random(f"tillit-legacy:{seed}:{name}")


@dataclass(frozen=True)
class _Writers:
    register: vtj.PopulationRegisterWriter
    placements: ece.EarlyChildhoodEducationWriter
    enrolments: school.SchoolEnrolmentWriter
    cases: fs.FamilyServicesWriter


def _open_writers(
    stack: ExitStack, out_dir: Path, info: DropInfo, allocator: HenkilotunnusAllocator
) -> _Writers:
    manifest = stack.enter_context(ManifestWriter(out_dir / MANIFEST_FILE))

    def injector(system: str, checks: tuple[str, ...]) -> DefectInjector:
        rng = _stream(info.seed, f"defects:{system}")
        return DefectInjector(system, checks, info.defect_rate, rng, manifest)

    def orphans(defects: DefectInjector) -> Callable[[], str]:
        return _orphan_ids(allocator, defects.rng, info.as_of)

    register = vtj.PopulationRegisterWriter(
        out_dir / FILES[vtj.SYSTEM], info.as_of, injector(vtj.SYSTEM, vtj.DEFECT_CHECKS)
    )
    ece_defects = injector(ece.SYSTEM, ece.DEFECT_CHECKS)
    placements = ece.EarlyChildhoodEducationWriter(
        out_dir / FILES[ece.SYSTEM], ece_defects, orphans(ece_defects)
    )
    school_defects = injector(school.SYSTEM, school.DEFECT_CHECKS)
    enrolments = school.SchoolEnrolmentWriter(
        out_dir / FILES[school.SYSTEM], info.extracted_at, school_defects, orphans(school_defects)
    )
    fs_defects = injector(fs.SYSTEM, fs.DEFECT_CHECKS)
    cases = fs.FamilyServicesWriter(out_dir / FILES[fs.SYSTEM], fs_defects, orphans(fs_defects))
    return _Writers(
        stack.enter_context(register),
        stack.enter_context(placements),
        stack.enter_context(enrolments),
        stack.enter_context(cases),
    )


def generate_legacy(
    out_dir: Path,
    *,
    people: int = 10_000,
    seed: int = 7,
    defect_rate: float = 0.02,
    as_of: date | None = None,
    progress: Callable[[int], None] | None = None,
) -> DropInfo:
    """Generate the four legacy extracts, drop.json and manifest.jsonl into out_dir."""
    _validate(people, defect_rate)
    info = make_drop_info(
        people=people, seed=seed, defect_rate=defect_rate, as_of=as_of or date.today()
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / DROP_FILE).unlink(missing_ok=True)  # drop.json is written last: a complete drop
    allocator = HenkilotunnusAllocator(_stream(seed, "henkilotunnus"))
    households = HouseholdFactory(_stream(seed, "households"), allocator, info.as_of)
    planner = ServicePlanner(_stream(seed, "services"), info.as_of)
    with ExitStack() as stack:
        writers = _open_writers(stack, out_dir, info, allocator)
        pending = 0
        for household in households.households(people):
            plan = planner.plan(household)
            writers.placements.write(plan.placements)
            writers.enrolments.write(plan.enrolments)
            writers.cases.write(plan.cases)
            writers.register.write_household(household, plan.referenced_ids())
            pending += len(household.members)
            if progress is not None and pending >= PROGRESS_EVERY:
                progress(pending)
                pending = 0
        if progress is not None and pending:
            progress(pending)
    write_drop_info(out_dir, info)
    return info
