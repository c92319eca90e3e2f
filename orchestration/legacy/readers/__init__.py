"""Readers of the four legacy systems: each yields canonical, object-dtype DataFrames in chunks."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pandas as pd

from orchestration.legacy import early_childhood_education as ece
from orchestration.legacy import family_services as fs
from orchestration.legacy import population_register as vtj
from orchestration.legacy import school_enrolment as school
from orchestration.legacy.drop import FILES
from orchestration.legacy.readers.common import SOURCE_REF
from orchestration.legacy.readers.early_childhood_education import read_early_childhood_education
from orchestration.legacy.readers.family_services import read_family_services
from orchestration.legacy.readers.population_register import read_population_register
from orchestration.legacy.readers.school_enrolment import read_school_enrolment

Reader = Callable[[Path, int], Iterator[pd.DataFrame]]

READERS: dict[str, Reader] = {
    vtj.SYSTEM: read_population_register,
    ece.SYSTEM: read_early_childhood_education,
    school.SYSTEM: read_school_enrolment,
    fs.SYSTEM: read_family_services,
}
CANONICAL_COLUMNS: dict[str, tuple[str, ...]] = {
    vtj.SYSTEM: vtj.CANONICAL_COLUMNS,
    ece.SYSTEM: ece.CANONICAL_COLUMNS,
    school.SYSTEM: school.CANONICAL_COLUMNS,
    fs.SYSTEM: fs.CANONICAL_COLUMNS,
}


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            count += block.count(b"\n")
    return count


def _count_elements(path: Path) -> int:
    count, tail = 0, b""
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            data = tail + block
            count += data.count(b"<oppilas ")
            tail = data[-8:]
    return count


def count_source_rows(legacy_dir: Path) -> dict[str, int]:
    """Count source rows per system straight from the files, without parsing them."""
    database = (legacy_dir / FILES[ece.SYSTEM]).resolve().as_uri()
    with closing(sqlite3.connect(f"{database}?mode=ro", uri=True)) as connection:
        (placements,) = connection.execute("SELECT COUNT(*) FROM LPS_SIJ").fetchone()
    return {
        vtj.SYSTEM: _count_lines(legacy_dir / FILES[vtj.SYSTEM]) - 1,
        ece.SYSTEM: int(placements),
        school.SYSTEM: _count_elements(legacy_dir / FILES[school.SYSTEM]),
        fs.SYSTEM: _count_lines(legacy_dir / FILES[fs.SYSTEM]) - 1,
    }


__all__ = ["CANONICAL_COLUMNS", "READERS", "SOURCE_REF", "Reader", "count_source_rows"]
